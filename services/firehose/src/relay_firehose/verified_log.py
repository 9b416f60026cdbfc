"""The replay log adapter: reads the JetStream ``VERIFIED`` stream by stream sequence.

Why raw pull requests instead of nats-py's ``fetch``: ``fetch`` awaits ``next_msg`` per message
(~10k msgs/s measured) and, in its lingering mode, holds the first message until the batch fills
or the request expires. Here an ephemeral, unacknowledged, memory-backed pull consumer is asked
for batches on a private inbox of the replica's :class:`~relay_firehose.inbox_link.InboxLink`
(a lean NATS connection whose callback only appends: ~2 µs per message, against ~14 µs through a
nats-py subscription), and the caller sees every message as soon as it lands. A replaying
subscriber reads on only once its socket has drained, and each reader asks for the next batch when
it hands out the previous one (one batch of read-ahead), so its reads pause while its buffer is
full with at most one batch waiting in memory. Consumers are created and deleted through the
nats-py client.

This module is the protobuf boundary for ``VerifiedEvent``: it hands out :class:`LogEntry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from relay_core.errors import InvalidFrame
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime.streams import StreamDef

from relay_firehose import metrics
from relay_firehose.inbox_link import InboxLink, InboxSubscription
from relay_firehose.log_entry import AccountChange, LogEntry, build_entry
from relay_firehose.takedowns import ACCOUNT_KIND

__all__ = ["LogBounds", "PullReader", "RawMessage", "VerifiedLog", "decode_entry", "parse_ack_subject"]

logger = logging.getLogger(__name__)

_STATUS_MARK: Final = b"NATS/1.0 "
"""Status replies (404 no messages, 408 expired, 409/503) carry a code after the version."""
_HEARTBEAT: Final = b"100"
_CONSUMER_GONE: Final = frozenset({b"409", b"503"})
_INACTIVE_THRESHOLD_SECONDS: Final = 60.0
_LINGER_SECONDS: Final = 5.0
_REQUEST_GRACE_SECONDS: Final = 2.0
_CLOSE_TIMEOUT_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One stream message: its sequence, publish time and protobuf payload."""

    seq: int
    published_at_ns: int
    pending: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LogBounds:
    """The replay window right now. ``first_seq`` is ``last_seq + 1`` when the stream is empty."""

    first_seq: int
    last_seq: int


def parse_ack_subject(reply: str | bytes) -> tuple[int, int, int]:
    """``(stream_seq, published_at_ns, pending)`` from a JetStream ``$JS.ACK...`` reply subject.

    Both layouts are accepted: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``
    and the newer one with ``<domain>.<account hash>`` after ``ACK`` (and a trailing token).

    Raises:
        ValueError: not a JetStream ack subject.
    """
    tokens = (reply.encode() if isinstance(reply, str) else reply).split(b".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[7]), int(tokens[8])
    if len(tokens) >= 11 and tokens[0] == b"$JS" and tokens[1] == b"ACK":
        return int(tokens[7]), int(tokens[9]), int(tokens[10])
    raise ValueError(f"not a JetStream ack subject: {reply[:80]!r}")


def decode_entry(raw: RawMessage) -> LogEntry | None:
    """Turn a VERIFIED message into a servable entry; None (counted, logged) if it cannot be."""
    try:
        event = events_pb2.VerifiedEvent.FromString(raw.data)
    except Exception:  # protobuf raises DecodeError or RuntimeWarning-derived errors
        _dropped("bad_payload", raw.seq)
        return None
    account = None
    if event.kind == ACCOUNT_KIND and event.HasField("account"):
        info = event.account
        account = AccountChange(
            active=info.active, takendown=info.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
        )
    try:
        return build_entry(
            seq=raw.seq,
            published_at_ns=raw.published_at_ns,
            did=event.did,
            kind=event.kind,
            frame=event.frame,
            account=account,
        )
    except InvalidFrame as exc:
        _dropped(exc.reason, raw.seq)
        return None


def _dropped(reason: str, seq: int) -> None:
    metrics.EVENTS_DROPPED_TOTAL.labels(reason).inc()
    logger.warning("verified event not servable; skipped", extra={"seq": seq, "reason": reason})


def account_change(raw: RawMessage) -> tuple[str, AccountChange] | None:
    """The DID and takedown meaning of an ``#account`` message, without resequencing it."""
    try:
        event = events_pb2.VerifiedEvent.FromString(raw.data)
    except Exception:
        return None
    if event.kind != ACCOUNT_KIND or not event.HasField("account"):
        return None
    takendown = event.account.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
    return event.did, AccountChange(active=event.account.active, takendown=takendown)


def did_and_kind(raw: RawMessage) -> tuple[str, str] | None:
    try:
        event = events_pb2.VerifiedEvent.FromString(raw.data)
    except Exception:
        return None
    return event.did, event.kind


class VerifiedLog:
    """The VERIFIED stream (or a test stream of the same shape) as a log addressed by seq."""

    def __init__(self, nc: NatsClient, js: JetStreamContext, stream: StreamDef) -> None:
        self._nc = nc
        self._js = js
        self.stream = stream
        self.link = InboxLink(lambda: nc.connected_url)
        """The lean connection every reader of this log receives its batches on."""

    def subject(self, kind: str) -> str:
        """The subject events of ``kind`` are published on (``relay.verified.<kind>``)."""
        return self.stream.subjects[0].removesuffix("*") + kind

    async def bounds(self) -> LogBounds:
        info = await self._js.stream_info(self.stream.name)
        state = info.state
        first = state.first_seq if state.messages else state.last_seq + 1
        return LogBounds(first_seq=max(first, 1), last_seq=state.last_seq)

    async def published_at_ns(self, seq: int) -> int | None:
        """Publish time of message ``seq`` (None if it is gone)."""
        try:
            msg = await self._js.get_msg(self.stream.name, seq)
        except NotFoundError:
            return None
        return None if msg.time is None else int(msg.time.timestamp() * 1e9)

    def reader(
        self, start_seq: int, *, linger: bool, batch: int = 500, filter_subject: str = ""
    ) -> PullReader:
        """A reader from ``start_seq``; ``linger`` waits for new messages (live tail)."""
        return PullReader(
            self._nc,
            self._js,
            self.link,
            self.stream.name,
            start_seq,
            linger=linger,
            batch=batch,
            filter_subject=filter_subject,
        )

    async def delete(self, seqs: Iterable[int]) -> int:
        """Delete messages by seq (takedown scrub); returns how many were deleted."""
        deleted = 0
        for seq in seqs:
            with contextlib.suppress(NotFoundError):
                if await self._js.delete_msg(self.stream.name, seq):
                    deleted += 1
        return deleted


class PullReader:
    """Batches of stream messages in order from ``start_seq``, through one ephemeral consumer.

    ``read()`` with ``linger=False`` returns what the stream holds now (possibly nothing);
    with ``linger=True`` it waits until at least one message arrives. Messages below the next
    expected seq (after a consumer is recreated) are skipped, so the order is strict.
    """

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        link: InboxLink,
        stream: str,
        start_seq: int,
        *,
        linger: bool,
        batch: int,
        filter_subject: str = "",
    ) -> None:
        self._nc = nc
        self._js = js
        self._link = link
        self._stream = stream
        self._filter = filter_subject
        self._linger = linger
        self._batch = batch
        self.next_seq = start_seq
        self._consumer: str | None = None
        self._sub: InboxSubscription | None = None
        self._holds_link = False
        self._buffer: list[RawMessage] = []
        self._wanted = 0
        self._requested_at = 0.0
        self._consumer_gone = False
        self._arrived = asyncio.Event()
        self._closed = False

    async def _open(self) -> None:
        if not self._holds_link:
            self._link.retain()
            self._holds_link = True
        await self._link.ensure()
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(self.next_seq, 1),
            ack_policy=api.AckPolicy.NONE,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=_INACTIVE_THRESHOLD_SECONDS,
            filter_subject=self._filter or None,
            max_waiting=4,
        )
        info = await self._js.add_consumer(self._stream, config)
        self._consumer = info.name
        # NOTE: nats-py's request awaits asyncio.wait_for, which on 3.11 swallows a cancellation
        # that races the reply; a reader opened just as the hub stops would then never end.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if self._sub is None:
            self._sub = self._link.subscribe(self._on_msg, self._on_link_lost)
        self._consumer_gone = False
        self._wanted = 0

    def _on_link_lost(self) -> None:
        self._sub = None
        self._consumer_gone = True  # recreate the consumer too: the old one fed the dead inbox
        self._wanted = 0
        self._arrived.set()

    def _on_msg(self, reply: bytes, headers: bytes, data: bytes) -> None:
        if headers[8:9] == b" " and headers.startswith(_STATUS_MARK):
            status = headers[9:12]
            if status == _HEARTBEAT:
                return
            self._wanted = 0  # 404 no messages, 408 expired, 409/503: the request is over
            if status in _CONSUMER_GONE:
                self._consumer_gone = True
            self._arrived.set()
            return
        try:
            seq, ts, pending = parse_ack_subject(reply)
        except ValueError:
            return
        self._wanted -= 1
        if seq >= self.next_seq:
            self._buffer.append(RawMessage(seq, ts, pending, data))
        self._arrived.set()

    def _request(self) -> None:
        assert self._consumer is not None and self._sub is not None
        body = (
            f'{{"batch":{self._batch},"expires":{int(_LINGER_SECONDS * 1e9)}}}'
            if self._linger
            else f'{{"batch":{self._batch},"no_wait":true}}'
        )
        self._wanted = self._batch
        self._requested_at = time.monotonic()
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"
        self._link.publish(subject, body.encode(), reply=self._sub.subject)

    async def read(self) -> list[RawMessage]:
        """The next messages in seq order (an empty list only when not lingering)."""
        while not self._closed:
            if self._buffer:
                out, self._buffer = self._buffer, []
                self.next_seq = out[-1].seq + 1
                if self._wanted <= 0 and not self._consumer_gone and self._sub is not None:
                    # Read ahead one batch: the server fetches it while the caller works.
                    self._arrived.clear()
                    with contextlib.suppress(ConnectionError):
                        self._request()
                return out
            if self._consumer is None or self._consumer_gone or self._sub is None:
                await self._open()
            if self._wanted <= 0:
                self._arrived.clear()
                try:
                    self._request()
                except ConnectionError:
                    continue  # the link just went; _on_link_lost has marked us for reopening
            elif time.monotonic() - self._requested_at > _LINGER_SECONDS + _REQUEST_GRACE_SECONDS:
                self._wanted = 0  # the request was lost (reconnect); ask again
                continue
            # NOTE: asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races the event being set, and this loop would then never end.
            try:
                async with asyncio.timeout(_LINGER_SECONDS + _REQUEST_GRACE_SECONDS):
                    await self._arrived.wait()
            except TimeoutError:
                continue
            self._arrived.clear()
            if not self._buffer and not self._linger and self._wanted <= 0 and not self._consumer_gone:
                return []
        return []

    async def close(self) -> None:
        """Drop the inbox and the server-side consumer (it would expire by itself anyway)."""
        self._closed = True
        self._arrived.set()
        sub, self._sub = self._sub, None
        consumer, self._consumer = self._consumer, None
        if sub is not None:
            self._link.unsubscribe(sub)
        # Bounded: a reader closing during shutdown or a NATS outage must not hold the caller.
        if consumer is not None and self._nc.is_connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_TIMEOUT_SECONDS):
                    await self._js.delete_consumer(self._stream, consumer)
        if self._holds_link:
            self._holds_link = False
            await self._link.release()
