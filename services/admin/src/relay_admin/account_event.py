"""Announcing an operator's takedown (or its reversal) as a synthetic ``#account`` event.

VERIFIED is the relay's replay log (docs/decisions/0003): an event published there gets the
next relay seq, and every firehose replica, live or replaying, folds it into its takedown set
at that same seq. The indexer and validator learn the local status from the indexer's stored
state, which the takedown wrote before the event is published.

The event is shaped like one the validator would publish, with two markers of its origin:
``host`` is empty and ``upstream_seq`` is 0 (no PDS sent it). Its frame carries ``seq: 0``,
which the firehose overwrites with the stream sequence like any other.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Final, Protocol

import grpc
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from relay_core.firehose.events import AccountEvent, encode_event
from relay_core.syntax import Did, parse_datetime
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream
from relay_runtime.streams import verified_subject

from relay_admin.errors import PeerError

__all__ = [
    "ACCOUNT_KIND",
    "AccountAnnouncement",
    "AccountAnnouncer",
    "JetStreamAnnouncer",
    "account_event_msg_id",
    "build_account_event",
]

ACCOUNT_KIND: Final = "account"
_MSG_ID_PREFIX: Final = "admin:"


@dataclass(frozen=True, slots=True)
class AccountAnnouncement:
    """What to announce: ``active`` and, when not active, the lexicon status (``takendown``)."""

    did: Did
    active: bool
    status: str | None


class AccountAnnouncer(Protocol):
    """Where announcements go; returns the relay seq the event was given."""

    async def announce(self, announcement: AccountAnnouncement) -> int: ...


def account_event_msg_id(did: Did) -> str:
    """A ``Nats-Msg-Id`` unique per announcement: two takedowns of one DID are two events."""
    return f"{_MSG_ID_PREFIX}{did}:{uuid.uuid4().hex}"


def _status_to_proto(status: str | None, active: bool) -> types_pb2.AccountStatus.ValueType:
    if active:
        return types_pb2.ACCOUNT_STATUS_ACTIVE
    name = "ACCOUNT_STATUS_" + (status or "deactivated").upper()
    if name not in types_pb2.AccountStatus.keys():
        return types_pb2.ACCOUNT_STATUS_UNSPECIFIED
    return types_pb2.AccountStatus.Value(name)


def build_account_event(announcement: AccountAnnouncement, now: dt.datetime) -> events_pb2.VerifiedEvent:
    """The VerifiedEvent for ``announcement`` at ``now`` (an aware UTC datetime)."""
    raw_time = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    time = parse_datetime(raw_time)
    frame = encode_event(
        AccountEvent(
            seq=0,
            did=announcement.did,
            time=time,
            active=announcement.active,
            status=None if announcement.active else announcement.status,
        )
    )
    now_us = time.epoch_us
    return events_pb2.VerifiedEvent(
        did=announcement.did,
        host="",
        upstream_seq=0,
        kind=ACCOUNT_KIND,
        frame=frame,
        received_at_us=now_us,
        verified_at_us=now_us,
        event_time=raw_time,
        account=events_pb2.AccountInfo(
            active=announcement.active,
            status=_status_to_proto(announcement.status, announcement.active),
        ),
    )


class JetStreamAnnouncer:
    """Publishes announcements to VERIFIED and waits for the stream's ack (the relay seq)."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def announce(self, announcement: AccountAnnouncement) -> int:
        event = build_account_event(announcement, dt.datetime.now(dt.UTC))
        try:
            ack = await jetstream.publish(
                self._js,
                verified_subject(ACCOUNT_KIND),
                event.SerializeToString(),
                msg_id=account_event_msg_id(announcement.did),
            )
        except (NatsError, TimeoutError) as exc:
            raise PeerError("nats", "publish #account", grpc.StatusCode.UNAVAILABLE, repr(exc)) from exc
        return int(ack.seq)
