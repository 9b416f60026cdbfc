"""Publication → `relay.events.v1.VerifiedEvent` on VERIFIED, pipelined, in order.

The only module here that builds events protobufs (besides `raw_frames`, which reads them).
Publishes of one batch go out back to back on one connection (so the stream stores them in
partition order) and their acks are counted together (`batch_acks`). Each event carries the
trace context its raw frame came with, so a trace follows the event across both streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from nats.js import JetStreamContext
from relay_proto.events.v1 import events_pb2
from relay_runtime.streams import verified_msg_id, verified_subject

from relay_validator.batch_acks import BatchAcks, Message
from relay_validator.cid_text import cid_text
from relay_validator.indexer_client import to_proto_status
from relay_validator.verdict import (
    AccountDetails,
    CommitDetails,
    EventKind,
    IdentityDetails,
    Publication,
    SyncDetails,
)

__all__ = ["DERIVED_MSG_ID_SUFFIX", "Outgoing", "VerifiedPublisher", "msg_id", "to_proto_event"]

DERIVED_MSG_ID_SUFFIX: Final = "/account"
"""Appended to the triggering frame's msg id for the relay's own `#account` (desynchronized or
back to active), so it is deduplicated on re-verification like the event that caused it."""
_MSG_ID_HEADER: Final = "Nats-Msg-Id"
_SUBJECTS: Final = {kind: verified_subject(kind.value) for kind in EventKind}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A publication with the raw frame's coordinates (host, upstream seq, receive time)."""

    host: str
    upstream_seq: int
    received_at_us: int
    publication: Publication
    trace: Mapping[str, str] | None = None
    """W3C trace-context headers of the raw frame (`traceparent`, ...), passed on as they came."""


def msg_id(out: Outgoing) -> str:
    base = verified_msg_id(out.host, out.upstream_seq)
    return base + DERIVED_MSG_ID_SUFFIX if out.publication.derived else base


def to_proto_event(out: Outgoing, verified_at_us: int) -> Any:
    """The `VerifiedEvent` for one publication."""
    pub = out.publication
    event = events_pb2.VerifiedEvent(
        did=pub.did,
        host=out.host,
        upstream_seq=out.upstream_seq,
        kind=pub.kind.value,
        frame=pub.frame,
        rev=pub.rev,
        received_at_us=out.received_at_us,
        verified_at_us=verified_at_us,
        event_time=pub.event_time,
    )
    details = pub.details
    # Sub-messages are filled in place (no CopyFrom of a temporary): this runs once per event.
    if isinstance(details, CommitDetails):
        commit = event.commit
        commit.commit_cid = cid_text(details.commit_cid)
        commit.data_cid = cid_text(details.data_cid)
        if details.prev_data_cid is not None:
            commit.prev_data_cid = cid_text(details.prev_data_cid)
        if details.since is not None:
            commit.since = details.since
        ops = commit.ops
        for op in details.ops:
            ops.add(
                action=op.action.value,
                path=op.path,
                cid="" if op.cid is None else cid_text(op.cid),
                prev_cid="" if op.prev is None else cid_text(op.prev),
            )
    elif isinstance(details, SyncDetails):
        sync = event.sync
        sync.commit_cid = cid_text(details.commit_cid)
        sync.data_cid = cid_text(details.data_cid)
    elif isinstance(details, IdentityDetails):
        event.identity.handle = details.handle or ""
        event.identity.handle_verified = details.handle_verified
    elif isinstance(details, AccountDetails):
        event.account.active = details.active
        event.account.status = to_proto_status(details.upstream_status)
    return event


class VerifiedPublisher:
    """Publishes a batch's verified events and waits until JetStream stored every one.

    Args:
        js: the JetStream context.
        timeout_seconds: for the whole batch's acks; on timeout the batch is retried (and the
            already stored events deduplicated by msg id).
    """

    def __init__(self, js: JetStreamContext, *, timeout_seconds: float) -> None:
        # NOTE: nats-py exposes the connection only on the client, not the context.
        self._acks = BatchAcks(js._nc)
        self._timeout = timeout_seconds

    async def publish(self, outgoing: Sequence[Outgoing], verified_at_us: int) -> None:
        """Raises whatever nats raises (timeouts, API errors); nothing is half-acknowledged."""
        if not outgoing:
            return
        messages: list[Message] = []
        for out in outgoing:
            headers = {_MSG_ID_HEADER: msg_id(out)}
            if out.trace:
                headers.update(out.trace)
            payload = to_proto_event(out, verified_at_us).SerializeToString()
            messages.append((_SUBJECTS[out.publication.kind], payload, headers))
        await self._acks.publish(messages, self._timeout)
