"""The subscriber hub: one live tail of the log fanned out to every connection.

Live path: one pull reader follows the stream; each message is resequenced and WebSocket-framed
once (:mod:`relay_firehose.log_entry`), kept in the :class:`EventRing`, and the frames that
arrived since the last flush are joined into one byte string written to every live connection
(one ``transport.write`` per connection per flush). A live connection whose write buffer passes
``max_live_buffer_bytes`` gets ``ConsumerTooSlow`` and is closed.

Catch-up path: a subscriber with a cursor reads the stream through its own reader, asking for the
next batch only after its socket drained, so it goes at its own pace and is never dropped for it
(indigo #975). When the next seq it needs is in the ring it continues from memory, and when it
has been sent everything up to the ring's head it joins the live set in the same synchronous step
as that check: the hand-off has no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Final

from relay_core.firehose.frames import encode_error_frame, encode_frame

from relay_firehose import metrics
from relay_firehose.connection import Connection
from relay_firehose.cursor import StartKind, plan_start
from relay_firehose.log_entry import LogEntry
from relay_firehose.rate import RateMeter
from relay_firehose.ring import EventRing
from relay_firehose.subscriber import Subscriber, SubscriberState
from relay_firehose.takedowns import TakedownSet
from relay_firehose.verified_log import (
    LogBounds,
    PullReader,
    RawMessage,
    VerifiedLog,
    account_change,
    decode_entry,
    did_and_kind,
)
from relay_firehose.websocket import CloseCode, Opcode, encode_binary, encode_control

__all__ = ["Hub", "HubSettings"]

logger = logging.getLogger(__name__)

_FUTURE_CURSOR: Final = encode_binary(encode_error_frame("FutureCursor", "cursor is ahead of the newest seq"))
_TOO_SLOW: Final = encode_binary(
    encode_error_frame("ConsumerTooSlow", "consumer could not keep up with live")
)
_OUTDATED: Final = encode_binary(
    encode_frame("#info", {"name": "OutdatedCursor", "message": "cursor is older than the replay window"})
)
_PING: Final = encode_control(Opcode.PING, b"relay")
_TAIL_WAIT_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HubSettings:
    """Tuning of the fan-out (from FirehoseConfig)."""

    ring_size_events: int = 20_000
    max_live_buffer_bytes: int = 16 * 1024 * 1024
    catchup_buffer_bytes: int = 1024 * 1024
    flush_interval_seconds: float = 0.005
    ping_interval_seconds: float = 30.0
    replay_batch: int = 500

    def __post_init__(self) -> None:
        if self.max_live_buffer_bytes <= self.catchup_buffer_bytes:
            raise ValueError("max_live_buffer_bytes must exceed catchup_buffer_bytes")


class Hub:
    """Owns the live tail, the ring, the takedown set and every subscriber of this replica."""

    def __init__(self, log: VerifiedLog, settings: HubSettings) -> None:
        self.log = log
        self.settings = settings
        self.takedowns = TakedownSet()
        self.ring = EventRing(settings.ring_size_events, head=0)
        self.rate = RateMeter()
        self.started = asyncio.Event()
        self._subscribers: dict[Connection, Subscriber] = {}
        self._live: dict[Subscriber, None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._advanced = asyncio.Event()
        self._ids = itertools.count(1)
        self._accepting = True
        self._all_gone = asyncio.Event()

    def next_connection_id(self) -> int:
        return next(self._ids)

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers.values())

    # startup

    async def start(self) -> None:
        """Find the head, fold the window's ``#account`` events into the takedown set, arm the ring."""
        bounds = await self.log.bounds()
        await self._load_takedowns(bounds)
        self.ring = EventRing(self.settings.ring_size_events, head=bounds.last_seq)
        metrics.HEAD_SEQ.set(bounds.last_seq)
        logger.info(
            "firehose log opened",
            extra={
                "first_seq": bounds.first_seq,
                "last_seq": bounds.last_seq,
                "takedowns": len(self.takedowns),
            },
        )

    async def _load_takedowns(self, bounds: LogBounds) -> None:
        reader = self.log.reader(
            bounds.first_seq, linger=False, batch=1000, filter_subject=self.log.subject("account")
        )
        try:
            while True:
                raws = await reader.read()
                for raw in raws:
                    if raw.seq > bounds.last_seq:
                        return
                    change = account_change(raw)
                    if change is not None:
                        did, what = change
                        self.takedowns.apply_account_event(did, active=what.active, takendown=what.takendown)
                if not raws:
                    return
        finally:
            await reader.close()

    # running

    async def run(self, stop: asyncio.Event) -> None:
        """Tail the log and ping consumers until ``stop``; then close every connection."""
        tail = asyncio.create_task(self._tail())
        pinger = asyncio.create_task(self._pinger())
        self.started.set()
        stop_wait = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({tail, pinger, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_wait:
                    task.result()  # a crashed tail ends the service loudly
        finally:
            for task in (tail, pinger, stop_wait):
                task.cancel()
            await asyncio.gather(tail, pinger, stop_wait, return_exceptions=True)

    async def _tail(self) -> None:
        reader = self.log.reader(self.ring.head + 1, linger=True, batch=1000)
        try:
            while True:
                raws = await reader.read()
                self._publish(self._decode(raws))
                await asyncio.sleep(self.settings.flush_interval_seconds)
        finally:
            await reader.close()

    def _decode(self, raws: list[RawMessage]) -> list[LogEntry]:
        entries: list[LogEntry] = []
        ring, takedowns = self.ring, self.takedowns
        for raw in raws:
            entry = decode_entry(raw)
            if entry is None:
                ring.skip(raw.seq)
                continue
            if entry.account is not None:
                change = entry.account
                takedowns.apply_account_event(entry.did, active=change.active, takendown=change.takendown)
            ring.append(entry)
            entries.append(entry)
        return entries

    def _publish(self, entries: list[LogEntry]) -> None:
        """Fan ``entries`` out to the live set (one joined write each) and wake catch-ups."""
        if entries:
            metrics.EVENTS_SEQUENCED_TOTAL.inc(len(entries))
            metrics.HEAD_SEQ.set(self.ring.head)
            self.rate.add(len(entries), time.time())
            hides = self.takedowns.hides
            visible = [e for e in entries if not hides(e.did, e.kind)]
            if len(visible) != len(entries):
                metrics.EVENTS_HIDDEN_TOTAL.inc(len(entries) - len(visible))
            if visible and self._live:
                self._fan_out(visible)
        advanced, self._advanced = self._advanced, asyncio.Event()
        advanced.set()

    def _fan_out(self, visible: list[LogEntry]) -> None:
        wire = b"".join(e.wire for e in visible) if len(visible) > 1 else visible[0].wire
        limit = self.settings.max_live_buffer_bytes
        too_slow: list[Subscriber] = []
        for sub in self._live:
            sub.send(visible, wire)
            if sub.conn.buffer_size() > limit:
                too_slow.append(sub)
        metrics.SENT_BYTES_TOTAL.inc(len(wire) * len(self._live))
        for sub in too_slow:
            self._drop_slow(sub)

    def _drop_slow(self, sub: Subscriber) -> None:
        self._live.pop(sub, None)
        metrics.DISCONNECTS_TOTAL.labels("consumer_too_slow").inc()
        logger.info(
            "live consumer too slow; closing",
            extra={"conn": sub.conn.id, "remote": sub.conn.remote_addr, "seq": sub.sent_seq},
        )
        sub.conn.close(CloseCode.POLICY_VIOLATION, "ConsumerTooSlow", error_frame=_TOO_SLOW)

    async def _pinger(self) -> None:
        """Ping every interval; close a peer that misses two in a row without reading anything.

        A replaying consumer may answer late because its ping waits behind megabytes of frames,
        so progress on a backed-up socket (bytes leaving our buffer while it is non-empty, which
        only happens when the peer reads) counts as a sign of life too.
        """
        while True:
            await asyncio.sleep(self.settings.ping_interval_seconds)
            for conn in list(self._subscribers):
                delivered = conn.delivered_bytes()
                progressed = delivered > conn.delivered_at_ping and conn.buffer_size() > 0
                if conn.ping_outstanding and not progressed:
                    conn.missed_pings += 1
                    if conn.missed_pings >= 2:
                        metrics.DISCONNECTS_TOTAL.labels("dead_peer").inc()
                        logger.info("consumer unresponsive; aborting", extra={"conn": conn.id})
                        conn.abort()
                        continue
                else:
                    conn.missed_pings = 0
                conn.ping_outstanding = True
                conn.delivered_at_ping = delivered
                conn.write(_PING)

    # subscribers (ConnectionHost)

    def on_open(self, conn: Connection, cursor: int | None) -> None:
        if not self._accepting:
            conn.close(CloseCode.GOING_AWAY, "relay shutting down")
            return
        sub = Subscriber(conn=conn, start_cursor=cursor)
        self._subscribers[conn] = sub
        self._all_gone.clear()
        if cursor is None:
            self._join_live(sub)
        else:
            task = asyncio.create_task(self._serve_cursor(sub))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._count()

    def on_lost(self, conn: Connection) -> None:
        sub = self._subscribers.pop(conn, None)
        if sub is not None:
            self._live.pop(sub, None)
        if not self._subscribers:
            self._all_gone.set()
        self._count()

    def _count(self) -> None:
        live = len(self._live)
        metrics.CONSUMERS.labels("live").set(live)
        metrics.CONSUMERS.labels("catching_up").set(len(self._subscribers) - live)

    def _join_live(self, sub: Subscriber) -> None:
        # NOTE: synchronous with the ring check by the caller: no await between them.
        sub.state = SubscriberState.LIVE
        sub.next_seq = self.ring.head + 1
        if sub.sent_seq == 0:
            sub.sent_seq = self.ring.head
        self._live[sub] = None
        self._count()

    async def _serve_cursor(self, sub: Subscriber) -> None:
        try:
            bounds = await self.log.bounds()
            last = max(bounds.last_seq, self.ring.head)
            start = plan_start(sub.start_cursor, first_seq=bounds.first_seq, last_seq=last)
            if start.kind is StartKind.FUTURE:
                metrics.DISCONNECTS_TOTAL.labels("future_cursor").inc()
                sub.conn.close(CloseCode.POLICY_VIOLATION, "FutureCursor", error_frame=_FUTURE_CURSOR)
                return
            if start.kind is StartKind.OUTDATED:
                sub.conn.write(_OUTDATED)
            sub.next_seq = start.next_seq
            sub.sent_seq = start.next_seq - 1
            sub.state = SubscriberState.CATCHING_UP
            self._count()
            await self._catch_up(sub)
        except Exception:
            logger.exception("replay failed; closing consumer", extra={"conn": sub.conn.id})
            metrics.DISCONNECTS_TOTAL.labels("server_error").inc()
            sub.conn.close(1011, "internal error")

    async def _catch_up(self, sub: Subscriber) -> None:
        conn = sub.conn
        reader: PullReader | None = None
        hides = self.takedowns.hides
        chunk = self.settings.catchup_buffer_bytes
        try:
            while not conn.closed and self._accepting:
                ring = self.ring
                if ring.covers(sub.next_seq):
                    if reader is not None:
                        await reader.close()
                        reader = None
                        continue  # the close awaited: look at the ring again
                    if sub.next_seq == ring.head + 1:
                        self._join_live(sub)
                        return
                    entries, sub.next_seq = ring.take(sub.next_seq, max_bytes=chunk)
                    self._send_catch_up(sub, [e for e in entries if not hides(e.did, e.kind)])
                    await conn.writable()
                    continue
                if reader is None:
                    reader = self.log.reader(sub.next_seq, linger=False, batch=self.settings.replay_batch)
                raws = await reader.read()
                if not raws:
                    # NOTE: asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                    # cancellation that races the inner wait finishing.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_TAIL_WAIT_SECONDS):
                            await self._advanced.wait()
                    continue
                visible: list[LogEntry] = []
                for raw in raws:
                    if raw.seq < sub.next_seq:
                        continue
                    sub.next_seq = raw.seq + 1
                    entry = decode_entry(raw)
                    if entry is not None and not hides(entry.did, entry.kind):
                        visible.append(entry)
                self._send_catch_up(sub, visible)
                await conn.writable()
        finally:
            if reader is not None:
                await reader.close()

    def _send_catch_up(self, sub: Subscriber, entries: list[LogEntry]) -> None:
        if entries:
            wire = b"".join(e.wire for e in entries)
            sub.send(entries, wire)
            metrics.SENT_BYTES_TOTAL.inc(len(wire))

    # operator actions and stats

    async def scrub(self, did: str) -> int:
        """Hide ``did`` now and delete its events (all but ``#account``) from the stream."""
        self.takedowns.take_down(did)
        bounds = await self.log.bounds()
        reader = self.log.reader(bounds.first_seq, linger=False, batch=1000)
        doomed: list[int] = []
        try:
            while True:
                raws = await reader.read()
                if not raws:
                    break
                for raw in raws:
                    if raw.seq > bounds.last_seq:
                        break
                    found = did_and_kind(raw)
                    if found is not None and found[0] == did and found[1] != "account":
                        doomed.append(raw.seq)
                if raws[-1].seq >= bounds.last_seq:
                    break
        finally:
            await reader.close()
        deleted = await self.log.delete(doomed)
        logger.info("account scrubbed from the replay log", extra={"did": did, "events": deleted})
        return deleted

    async def close_all(self, grace_seconds: float) -> None:
        """Stop accepting, send every consumer a close frame, wait for them to go (then abort)."""
        self._accepting = False
        for task in list(self._tasks):
            task.cancel()
        conns = list(self._subscribers)
        for conn in conns:
            metrics.DISCONNECTS_TOTAL.labels("shutdown").inc()
            conn.close(CloseCode.GOING_AWAY, "relay shutting down")
        if self._subscribers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_seconds):
                    await self._all_gone.wait()
        for conn in list(self._subscribers):
            conn.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def lag(self, sub: Subscriber) -> tuple[int, float]:
        """How far behind the head a subscriber is, in seqs and in seconds of publish time."""
        head = self.ring.head
        if sub.state is SubscriberState.LIVE:
            return 0, 0.0
        seqs = max(0, head - sub.sent_seq)
        newest = self._newest_published_ns()
        seconds = max(0.0, (newest - sub.sent_at_ns) / 1e9) if newest and sub.sent_at_ns else 0.0
        return seqs, seconds

    def _newest_published_ns(self) -> int:
        entries, _ = (
            self.ring.take(self.ring.head, max_bytes=1) if self.ring.covers(self.ring.head) else ([], 0)
        )
        return entries[0].published_at_ns if entries else 0
