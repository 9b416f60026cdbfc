"""`to_proto_event`: every kind fills exactly its own `info` branch, CIDs as base32 strings."""

from __future__ import annotations

from relay_core.cid import Cid
from relay_core.firehose.events import OpAction, RepoOp
from relay_core.syntax.did import Did
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_validator.account_state import AccountStatus
from relay_validator.verdict import (
    AccountDetails,
    CommitDetails,
    EventKind,
    IdentityDetails,
    Publication,
    SyncDetails,
)
from relay_validator.verified_publisher import Outgoing, msg_id, to_proto_event

DID = Did("did:plc:abcdefghijklmnopqrstuvwx")
A, B, C, D = (Cid.for_dag_cbor(bytes([i])) for i in range(4))


def _event(
    details: CommitDetails | SyncDetails | IdentityDetails | AccountDetails,
    kind: EventKind,
    *,
    derived: bool = False,
) -> events_pb2.VerifiedEvent:
    publication = Publication(
        kind=kind, did=DID, frame=b"\xa1", rev="3l", event_time="t", details=details, derived=derived
    )
    event = to_proto_event(Outgoing("pds.test", 7, 11, publication), 13)
    assert (event.did, event.host, event.upstream_seq, event.kind) == (DID, "pds.test", 7, kind.value)
    assert (event.frame, event.rev, event.received_at_us, event.verified_at_us) == (b"\xa1", "3l", 11, 13)
    assert event.WhichOneof("info") == kind.value
    return events_pb2.VerifiedEvent.FromString(event.SerializeToString())


def test_commit_info_carries_cids_and_ops() -> None:
    ops = (
        RepoOp(OpAction.CREATE, "app.bsky.feed.post/1", C, None),
        RepoOp(OpAction.UPDATE, "app.bsky.feed.post/2", C, D),
        RepoOp(OpAction.DELETE, "app.bsky.feed.post/3", None, D),
    )
    event = _event(CommitDetails(A, B, C, "3k", ops), EventKind.COMMIT)
    assert (event.commit.commit_cid, event.commit.data_cid) == (str(A), str(B))
    assert (event.commit.prev_data_cid, event.commit.since) == (str(C), "3k")
    assert [(o.action, o.path, o.cid, o.prev_cid) for o in event.commit.ops] == [
        ("create", "app.bsky.feed.post/1", str(C), ""),
        ("update", "app.bsky.feed.post/2", str(C), str(D)),
        ("delete", "app.bsky.feed.post/3", "", str(D)),
    ]
    first = _event(CommitDetails(A, B, None, None, ()), EventKind.COMMIT)
    assert (first.commit.prev_data_cid, first.commit.since, len(first.commit.ops)) == ("", "", 0)


def test_sync_identity_and_account_info() -> None:
    sync = _event(SyncDetails(A, B), EventKind.SYNC)
    assert (sync.sync.commit_cid, sync.sync.data_cid) == (str(A), str(B))
    unconfirmed = _event(IdentityDetails(None, False), EventKind.IDENTITY)
    assert (unconfirmed.identity.handle, unconfirmed.identity.handle_verified) == ("", False)
    confirmed = _event(IdentityDetails("a.test", True), EventKind.IDENTITY)
    assert (confirmed.identity.handle, confirmed.identity.handle_verified) == ("a.test", True)
    active = _event(AccountDetails(True, AccountStatus.ACTIVE), EventKind.ACCOUNT)
    assert (active.account.active, active.account.status) == (True, types_pb2.ACCOUNT_STATUS_ACTIVE)
    gone = _event(AccountDetails(False, AccountStatus.DELETED), EventKind.ACCOUNT, derived=True)
    assert (gone.account.active, gone.account.status) == (False, types_pb2.ACCOUNT_STATUS_DELETED)


def test_derived_events_get_their_own_msg_id() -> None:
    details = AccountDetails(True, AccountStatus.ACTIVE)
    pub = Publication(kind=EventKind.ACCOUNT, did=DID, frame=b"", rev="", event_time="", details=details)
    derived = Publication(
        kind=EventKind.ACCOUNT, did=DID, frame=b"", rev="", event_time="", details=details, derived=True
    )
    assert msg_id(Outgoing("h", 1, 0, derived)) == msg_id(Outgoing("h", 1, 0, pub)) + "/account"
