"""The indexer's side of the VERIFIED stream: protobuf → `verified_event` dataclasses, in batches.

This and `grpc_api` are the only modules here that touch protobuf. The server pushes VERIFIED to a
durable push consumer (`relay_runtime.push_consumer`); the loop takes a batch, applies it as one
unit (`EventApplier.apply`), and acks only after it landed; a failed batch is retried in place,
before anything newer. A message that cannot be decoded is counted, logged once per
batch and terminated (it would fail the same way on every redelivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from typing import Final

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from relay_core.errors import InvalidSyntax
from relay_core.syntax import parse_did, parse_nsid
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime.push_consumer import PushConsumer
from relay_runtime.streams import INDEXER, ConsumerDef

from relay_indexer import metrics
from relay_indexer.account import AccountStatus
from relay_indexer.event_applier import EventApplier
from relay_indexer.verified_event import (
    AccountEvent,
    CommitEvent,
    IdentityEvent,
    IndexedEvent,
    OpAction,
    RecordOp,
    SyncEvent,
)

__all__ = ["account_status_from_proto", "consume_verified", "from_proto_verified_event"]

logger = logging.getLogger(__name__)

_PREFIX: Final = "ACCOUNT_STATUS_"
_FIRST_RETRY_SECONDS: Final = 0.1
_MAX_RETRY_SECONDS: Final = 5.0
_FILL_SECONDS: Final = 0.25
"""A batch that is not full waits this long for more: one Postgres and RocksDB write per ~batch
instead of per handful of events (the index may be this much behind the firehose)."""


def account_status_from_proto(value: types_pb2.AccountStatus.ValueType) -> AccountStatus | None:
    """The proto enum as our StrEnum; None for UNSPECIFIED."""
    name = types_pb2.AccountStatus.Name(value)
    return None if name == _PREFIX + "UNSPECIFIED" else AccountStatus(name.removeprefix(_PREFIX).lower())


@functools.lru_cache(maxsize=4096)
def _record_op(action: str, collection: str) -> RecordOp:
    """Ops repeat a handful of (action, collection) pairs: parsed once, not per op (frozen)."""
    return RecordOp(OpAction(action), parse_nsid(collection))


def from_proto_verified_event(msg: events_pb2.VerifiedEvent) -> IndexedEvent:
    """Convert one VerifiedEvent.

    Raises:
        InvalidSyntax: a DID or collection NSID does not parse.
        ValueError: the event kind or an op action is unknown.
    """
    did = parse_did(msg.did)
    kind = msg.WhichOneof("info")
    if kind == "commit":
        ops = tuple(_record_op(op.action, op.path.partition("/")[0]) for op in msg.commit.ops)
        return CommitEvent(did=did, host=msg.host, rev=msg.rev, since=msg.commit.since, ops=ops)
    if kind == "sync":
        return SyncEvent(did=did, host=msg.host, rev=msg.rev)
    if kind == "identity":
        handle = msg.identity.handle if msg.identity.handle and msg.identity.handle_verified else None
        return IdentityEvent(did=did, host=msg.host, handle=handle)
    if kind == "account":
        status = account_status_from_proto(msg.account.status)
        if msg.account.active:
            status = AccountStatus.ACTIVE
        elif status is None or status is AccountStatus.ACTIVE:
            # NOTE: active=false without a status means "no claim why"; it is still not active.
            status = AccountStatus.DEACTIVATED
        relay_made = not msg.host and msg.upstream_seq == 0
        return AccountEvent(did=did, host=msg.host, status=status, relay_made=relay_made)
    raise ValueError(f"verified event without info: {msg.kind!r}")


def _decode(messages: list[Msg]) -> tuple[list[IndexedEvent], list[Msg]]:
    events: list[IndexedEvent] = []
    bad: list[Msg] = []
    for message in messages:
        proto = events_pb2.VerifiedEvent()
        try:
            proto.ParseFromString(message.data)
            events.append(from_proto_verified_event(proto))
        except (InvalidSyntax, ValueError, DecodeError) as exc:
            if not bad:
                logger.warning("dropping undecodable verified events", extra={"error": repr(exc)})
            bad.append(message)
            metrics.EVENTS_DROPPED_TOTAL.labels("undecodable").inc()
    return events, bad


async def consume_verified(
    nc: NatsClient,
    js: JetStreamContext,
    applier: EventApplier,
    *,
    stop: asyncio.Event,
    consumer: ConsumerDef = INDEXER,
    batch_size: int = 500,
    fetch_timeout_seconds: float = 1.0,
) -> None:
    """Apply VERIFIED in batches until `stop` is set; the batch in hand finishes first.

    `consumer` is the durable to read through (tests pass their own, on their own stream).
    """
    pushed = PushConsumer(nc, js, consumer)
    # Re-created on start: what was delivered and never acked (a crash mid-batch) comes back
    # first and in order, not after ack_wait behind newer events.
    await pushed.start(recreate=True)
    try:
        while not stop.is_set():
            messages = await pushed.take(batch_size, fetch_timeout_seconds)
            if not messages:
                continue
            if len(messages) < batch_size:
                # One Postgres and RocksDB write per ~batch instead of per handful of events: what
                # arrives meanwhile is already here, pushed by the server.
                await asyncio.sleep(_FILL_SECONDS)
                messages += await pushed.take(batch_size - len(messages), 0.0)
            events, bad = _decode(messages)
            if not await _apply(applier, events, messages, pushed, stop):
                return  # stopping with the batch unapplied: it comes back first next start
            for message in messages:
                if message in bad:
                    await message.term()
                elif stop.is_set():
                    await message.ack_sync()
                else:
                    await message.ack()
    finally:
        await pushed.stop()


async def _apply(
    applier: EventApplier,
    events: list[IndexedEvent],
    messages: list[Msg],
    pushed: PushConsumer,
    stop: asyncio.Event,
) -> bool:
    """Apply one batch, retrying in place until it lands (False: stopped first).

    In place, not nak'ed: a nak'ed batch would come back after the events behind it, and a commit
    applied after a newer one of the same repo is skipped as stale, its ops never indexed.
    """
    backoff = _FIRST_RETRY_SECONDS
    while True:
        with metrics.BATCH_SECONDS.time():
            try:
                result = await applier.apply(events)
                break
            except Exception:
                logger.exception("applying a verified batch failed; retrying", extra={"count": len(messages)})
        if stop.is_set():
            return False
        await pushed.keep_in_progress(messages)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, _MAX_RETRY_SECONDS)
    for kind, count in Counter(type(event) for event in events).items():
        metrics.EVENTS_INDEXED_TOTAL.labels(kind.__name__.removesuffix("Event").lower()).inc(count)
    metrics.OPS_APPLIED_TOTAL.inc(result.ops_applied)
    metrics.COMMITS_SKIPPED_TOTAL.inc(result.commits_skipped)
    return True
