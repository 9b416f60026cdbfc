"""The synthetic #account event: a real firehose frame inside a VerifiedEvent."""

from __future__ import annotations

import datetime as dt

from relay_admin.account_event import AccountAnnouncement, account_event_msg_id, build_account_event
from relay_admin.accounts import upstream_announcement
from relay_core.firehose.events import AccountEvent, parse_event
from relay_core.firehose.frames import decode_frame
from relay_core.syntax import Did
from relay_proto.events.v1 import events_pb2
from relay_proto.indexer.v1 import indexer_pb2
from relay_proto.types.v1 import types_pb2

DID = Did("did:plc:abcdefghijklmnopqrstuvwx")
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=dt.UTC)


def test_takedown_event_frame_is_an_account_event_with_seq_zero() -> None:
    event = build_account_event(AccountAnnouncement(DID, active=False, status="takendown"), NOW)
    assert (event.did, event.host, event.upstream_seq, event.kind) == (DID, "", 0, "account")
    assert event.WhichOneof("info") == "account"
    assert not event.account.active
    assert event.account.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
    assert event.event_time == "2026-01-02T03:04:05.678Z"
    assert (
        event.verified_at_us
        == event.received_at_us
        == int(NOW.replace(microsecond=678_000).timestamp() * 1e6)
    )
    parsed = parse_event(decode_frame(event.frame))
    assert isinstance(parsed, AccountEvent)
    assert (parsed.seq, parsed.did, parsed.active, parsed.status) == (0, DID, False, "takendown")
    assert parsed.time.raw == event.event_time
    assert events_pb2.VerifiedEvent.FromString(event.SerializeToString()) == event


def test_reactivation_event_has_no_status() -> None:
    event = build_account_event(AccountAnnouncement(DID, active=True, status=None), NOW)
    parsed = parse_event(decode_frame(event.frame))
    assert isinstance(parsed, AccountEvent)
    assert parsed.active and parsed.status is None
    assert event.account.active and event.account.status == types_pb2.ACCOUNT_STATUS_ACTIVE


def test_every_announcement_has_its_own_msg_id() -> None:
    first, second = account_event_msg_id(DID), account_event_msg_id(DID)
    assert first != second
    assert first.startswith(f"admin:{DID}:")


def test_reversal_announces_the_upstream_view() -> None:
    def account(status: types_pb2.AccountStatus.ValueType) -> indexer_pb2.Account:
        return indexer_pb2.Account(did=DID, upstream_status=status)

    assert upstream_announcement(account(types_pb2.ACCOUNT_STATUS_ACTIVE)) == AccountAnnouncement(
        DID, True, None
    )
    assert upstream_announcement(account(types_pb2.ACCOUNT_STATUS_UNSPECIFIED)) == AccountAnnouncement(
        DID, True, None
    )
    deactivated = upstream_announcement(account(types_pb2.ACCOUNT_STATUS_DEACTIVATED))
    assert deactivated == AccountAnnouncement(DID, False, "deactivated")
