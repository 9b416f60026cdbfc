"""The JetStream side: one loop per owned RAW_FRAMES partition, strictly in order.

A partition is owned by exactly one replica (config `RELAY_VALIDATOR_PARTITIONS`). The loop pulls
a batch, judges and publishes it through `Validation`, and does not pull again until the whole
batch is published, so frames are judged and published in stream order. Persisting the account
states (then acking the frames) overlaps with judging the next batch: it is the slowest step
(~20 ms of indexer and Postgres round trips), and waiting for it was most of every event's
latency. Persists run one at a time in order; if one fails, it and the batch judged on top of it
are judged again from the durable state (their publications deduplicate). When a dependency
fails or an identity cannot be resolved, the loop keeps the unfinished frames in hand (marking
them in progress so JetStream does not redeliver them elsewhere) and retries with backoff: the
partition stalls, which is what ordering requires.

On start the loop deletes and re-creates its durable consumer. RAW_FRAMES is a work queue, so
what remains for the partition is exactly what was never acked; re-creating the consumer delivers
it again immediately and in order. Without this, frames in flight at a crash would come back only
after `ack_wait`, behind newer frames, and the newer commits would look like broken chains.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_runtime.jetstream import ensure_consumer, fetch_batch
from relay_runtime.streams import validator_consumer

from relay_validator import metrics
from relay_validator.errors import DependencyUnavailable
from relay_validator.raw_frames import parse_raw_frame
from relay_validator.validation import Item, Judged, Validation, decode_item

__all__ = ["PartitionLoop"]

logger = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS: Final = 5.0
_V1_ACK_TOKENS: Final = 9


class PartitionLoop:
    """Consumes one RAW_FRAMES partition until `stop` is set.

    Args:
        js: JetStream context.
        partition: the partition number.
        validation: the shared batch judge.
        batch_size: messages per pull.
        fetch_timeout_seconds: how long one pull waits for messages.
        retry_seconds: first backoff after a failure (doubles up to 5 s).
    """

    def __init__(
        self,
        js: JetStreamContext,
        partition: int,
        validation: Validation,
        *,
        batch_size: int,
        fetch_timeout_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._js = js
        self.partition = partition
        self._validation = validation
        self._batch = batch_size
        self._fetch_timeout = fetch_timeout_seconds
        self._retry = retry_seconds
        self.held = 0
        """Frames fetched but not yet finished (GetStats queue depth)."""
        self._in_flight: _Segment | None = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = validator_consumer(self.partition)
        try:
            await self._js.delete_consumer(consumer.stream, consumer.durable)
        except NotFoundError:
            pass
        await ensure_consumer(self._js, consumer)
        subscription = await self._js.pull_subscribe_bind(durable=consumer.durable, stream=consumer.stream)
        logger.info("partition owned", extra={"partition": self.partition})
        try:
            while not stop.is_set():
                msgs = await fetch_batch(subscription, self._batch, self._fetch_timeout)
                if msgs:
                    await self._finish(msgs, stop)
                else:
                    await self._settle_idle(stop)
            await self._settle_idle(stop)
        finally:
            if self._in_flight is not None:
                self._in_flight.task.cancel()
            await subscription.unsubscribe()

    async def _finish(self, msgs: list[Msg], stop: asyncio.Event) -> None:
        """Judge, publish and hand over `msgs` for persisting, in segments, retrying failures."""
        items = []
        now_ns = time.time_ns()
        for msg in msgs:
            redelivered, stored_ns = _delivery(msg)
            if not redelivered:
                metrics.RAW_WAIT_SECONDS.observe(max(0, now_ns - stored_ns) / 1e9)
            items.append(decode_item(parse_raw_frame(msg.data, redelivered=redelivered)))
        start = 0
        backoff = self._retry
        stalled = False
        self.held = len(items)
        try:
            while start < len(items):
                judged: Judged | None = None
                with metrics.BATCH_SECONDS.time():
                    try:
                        judged = await self._validation.judge_and_publish(items[start:])
                    except DependencyUnavailable as exc:
                        metrics.DEPENDENCY_FAILURES_TOTAL.labels(exc.dependency).inc()
                        _log_stall(self.partition, str(exc), first=not stalled)
                    except (NatsError, TimeoutError) as exc:
                        metrics.DEPENDENCY_FAILURES_TOTAL.labels("nats").inc()
                        _log_stall(self.partition, repr(exc), first=not stalled)
                failed = await self._await_in_flight()
                if failed is not None:
                    # This segment was judged on the failed one's states: both go again, from the
                    # durable state, the failed one first (their publications deduplicate).
                    if judged is not None:
                        self._validation.forget(judged)
                    msgs = [*failed.msgs, *msgs[start:]]
                    items = [*failed.items, *items[start:]]
                    start = 0
                elif judged is not None and judged.done:
                    end = start + judged.done
                    self._in_flight = _Segment(msgs[start:end], items[start:end], judged, self._persist)
                    start = end
                    self.held = len(items) - start
                    backoff = self._retry
                    if start >= len(items):
                        break
                    if not judged.waiting:
                        continue  # an identity barrier split the batch: the rest goes on at once
                if stop.is_set():
                    # Unfinished frames stay unacked; the next owner re-creates the consumer and
                    # gets them first.
                    return
                if not stalled:
                    stalled = True
                    metrics.STALLED_PARTITIONS.inc()
                metrics.STALLED_FRAMES.set(len(items) - start)
                for msg in msgs[start:]:
                    await msg.in_progress()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
        finally:
            self.held = 0
            if stalled:
                metrics.STALLED_PARTITIONS.dec()
                metrics.STALLED_FRAMES.set(0)
                logger.info("partition resumed", extra={"partition": self.partition})

    async def _persist(self, segment: _Segment) -> None:
        await self._validation.persist(segment.judged)
        for msg in segment.msgs:
            await msg.ack()

    async def _await_in_flight(self) -> _Segment | None:
        """Wait for the segment being persisted; returns it if persisting failed."""
        segment, self._in_flight = self._in_flight, None
        if segment is None:
            return None
        try:
            await segment.task
        except DependencyUnavailable as exc:
            metrics.DEPENDENCY_FAILURES_TOTAL.labels(exc.dependency).inc()
            _log_stall(self.partition, str(exc), first=True)
            return segment
        except (NatsError, TimeoutError) as exc:
            metrics.DEPENDENCY_FAILURES_TOTAL.labels("nats").inc()
            _log_stall(self.partition, repr(exc), first=True)
            return segment
        return None

    async def _settle_idle(self, stop: asyncio.Event) -> None:
        """With nothing new to judge, finish the segment in flight (redoing it if it failed)."""
        failed = await self._await_in_flight()
        if failed is not None and not stop.is_set():
            # Its frames were not acked: re-judge them like a fresh pull, after a backoff.
            await asyncio.sleep(self._retry)
            await self._finish(failed.msgs, stop)


class _Segment:
    """A published prefix of a pull, being persisted (then acked) in the background while the
    next segment is judged: persisting is the slowest step, and segments are persisted in order
    because each waits for the one before it (`PartitionLoop._await_in_flight`)."""

    __slots__ = ("items", "judged", "msgs", "task")

    def __init__(
        self,
        msgs: list[Msg],
        items: list[Item],
        judged: Judged,
        persist: Callable[[_Segment], Coroutine[Any, Any, None]],
    ) -> None:
        self.msgs = msgs
        self.items = items
        self.judged = judged
        self.task = asyncio.create_task(persist(self), name="persist segment")


def _delivery(msg: Msg) -> tuple[bool, int]:
    """Whether JetStream delivered `msg` before, and when it stored it (unix ns), from its ack
    subject."""
    # `msg.metadata` builds four objects and a datetime (~5 µs a frame); the common v1 ack
    # subject `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` needs one split.
    tokens = (msg.reply or "").split(".")
    if len(tokens) == _V1_ACK_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return tokens[4] != "1", int(tokens[7])
    meta = msg.metadata
    stored = meta.timestamp
    return (meta.num_delivered or 1) > 1, int(stored.timestamp() * 1e9) if stored else time.time_ns()


def _log_stall(partition: int, error: str, *, first: bool) -> None:
    # Logged once per stall, not once per retry.
    if first:
        logger.warning("partition stalled; retrying", extra={"partition": partition, "error": error})
