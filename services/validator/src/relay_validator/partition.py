"""The JetStream side: one loop per owned RAW_FRAMES partition, strictly in order.

A partition is owned by exactly one replica (config `RELAY_VALIDATOR_PARTITIONS`). JetStream
pushes the partition's frames as they are stored (`relay_runtime.push_consumer`: no round trip per
batch). The loop takes a batch, judges and publishes it through `Validation`, and takes no more
until the whole batch is published, so frames are judged and published in stream order. Account
states are written (then the frames acked) by the partition's `Persister` in the background, while
the next batches are judged; a failed write comes back and is judged again before anything newer.
When a dependency fails or an identity cannot be resolved, the loop keeps the unfinished frames in
hand (marking them, and what is buffered behind them, in progress so JetStream does not redeliver
them) and retries with backoff: the partition stalls, which is what ordering requires.

On start the loop deletes and re-creates its durable consumer. RAW_FRAMES is a work queue, so
what remains for the partition is exactly what was never acked; re-creating the consumer delivers
it again immediately and in order. Without this, frames in flight at a crash would come back only
after `ack_wait`, behind newer frames, and the newer commits would look like broken chains.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from relay_runtime.push_consumer import PushConsumer
from relay_runtime.streams import validator_consumer

from relay_validator import metrics
from relay_validator.errors import DependencyUnavailable
from relay_validator.persister import Persister, Segment
from relay_validator.raw_frames import parse_raw_frame, trace_headers
from relay_validator.validation import Item, Judged, Validation, decode_item

__all__ = ["PartitionLoop"]

logger = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS: Final = 5.0
_V1_ACK_TOKENS: Final = 9


class PartitionLoop:
    """Consumes one RAW_FRAMES partition until `stop` is set.

    Args:
        nc: the NATS connection (the partition's frames are pushed to an inbox on it).
        js: JetStream context.
        partition: the partition number.
        validation: the shared batch judge.
        batch_size: frames taken per batch.
        fetch_timeout_seconds: how long the loop waits for a frame before it finishes writing.
        retry_seconds: first backoff after a failure (doubles up to 5 s).
    """

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        partition: int,
        validation: Validation,
        *,
        batch_size: int,
        fetch_timeout_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._consumer = PushConsumer(nc, js, validator_consumer(partition))
        self.partition = partition
        self._validation = validation
        self._batch = batch_size
        self._fetch_timeout = fetch_timeout_seconds
        self._retry = retry_seconds
        self.held = 0
        """Frames fetched but not yet finished (GetStats queue depth)."""
        self._persister = Persister(validation, partition)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._consumer
        await consumer.start(recreate=True)
        logger.info("partition owned", extra={"partition": self.partition})
        try:
            while not stop.is_set():
                if self._persister.backlog >= self._batch:
                    await self._persister.drain()  # bounds the frames held unacked
                msgs = await consumer.take(self._batch, self._fetch_timeout)
                if not msgs:
                    await self._persister.drain()  # idle: finish writing (a failure shows now)
                await self._finish(msgs, stop)
            await self._persister.drain()
        finally:
            self._persister.cancel()
            await consumer.stop()

    async def _finish(self, msgs: list[Msg], stop: asyncio.Event) -> None:
        """Judge and publish `msgs` in segments, handing each to the persister; retry failures.

        A write that failed comes back from the persister before anything newer is judged: its
        segments go first, and a segment judged on top of them is judged again after them.
        """
        items = self._decode(msgs)
        start = 0
        backoff = self._retry
        stalled = False
        self.held = len(items)
        try:
            while True:
                failed = self._persister.take_failed()
                if failed:
                    msgs = [*(m for seg in failed for m in seg.msgs), *msgs[start:]]
                    items = [*(i for seg in failed for i in seg.items), *items[start:]]
                    start = 0
                    self.held = len(items)
                    backoff = self._persister.retry_after(self._retry, _MAX_BACKOFF_SECONDS)
                elif start >= len(items):
                    return
                else:
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
                    if judged is not None and self._persister.has_failed:
                        # Judged on states whose write failed meanwhile: again, after them.
                        self._validation.forget(judged)
                        continue
                    if judged is not None and judged.done:
                        end = start + judged.done
                        self._persister.add(Segment(msgs[start:end], items[start:end], judged))
                        start = end
                        self.held = len(items) - start
                        backoff = self._retry
                        if start >= len(items) or not judged.waiting:
                            continue  # done, or an identity barrier split the batch
                if stop.is_set():
                    # Unfinished frames stay unacked; the next owner re-creates the consumer and
                    # gets them first.
                    return
                if not stalled:
                    stalled = True
                    metrics.STALLED_PARTITIONS.inc()
                metrics.STALLED_FRAMES.set(len(items) - start)
                await self._consumer.keep_in_progress(msgs[start:])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
        finally:
            self.held = 0
            if stalled:
                metrics.STALLED_PARTITIONS.dec()
                metrics.STALLED_FRAMES.set(0)
                logger.info("partition resumed", extra={"partition": self.partition})

    def _decode(self, msgs: list[Msg]) -> list[Item]:
        items = []
        now_ns = time.time_ns()
        for msg in msgs:
            redelivered, stored_ns = _delivery(msg)
            if not redelivered:
                metrics.RAW_WAIT_SECONDS.observe(max(0, now_ns - stored_ns) / 1e9)
            raw = parse_raw_frame(msg.data, redelivered=redelivered, trace=trace_headers(msg.headers))
            items.append(decode_item(raw))
        return items


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
