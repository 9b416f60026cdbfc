"""The JetStream side: one loop per owned RAW_FRAMES partition, strictly in order.

A partition is owned by exactly one replica (config `RELAY_VALIDATOR_PARTITIONS`). The loop pulls
a batch, runs it through `Validation`, acks the finished prefix, and does not pull again until the
whole batch is finished, so frames are judged and published in stream order. When a dependency
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
from typing import Final

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_runtime.jetstream import ensure_consumer, fetch_batch
from relay_runtime.streams import validator_consumer

from relay_validator import metrics
from relay_validator.errors import DependencyUnavailable
from relay_validator.raw_frames import parse_raw_frame
from relay_validator.validation import BatchResult, Validation, decode_item

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
                if not msgs:
                    continue
                await self._finish(msgs, stop)
        finally:
            await subscription.unsubscribe()

    async def _finish(self, msgs: list[Msg], stop: asyncio.Event) -> None:
        items = [decode_item(parse_raw_frame(m.data, redelivered=_redelivered(m))) for m in msgs]
        start = 0
        backoff = self._retry
        stalled = False
        self.held = len(items)
        try:
            while start < len(items):
                result: BatchResult | None = None
                with metrics.BATCH_SECONDS.time():
                    try:
                        result = await self._validation.run(items[start:])
                    except DependencyUnavailable as exc:
                        metrics.DEPENDENCY_FAILURES_TOTAL.labels(exc.dependency).inc()
                        _log_stall(self.partition, str(exc), first=not stalled)
                    except (NatsError, TimeoutError) as exc:
                        metrics.DEPENDENCY_FAILURES_TOTAL.labels("nats").inc()
                        _log_stall(self.partition, repr(exc), first=not stalled)
                if result is not None and result.done:
                    for msg in msgs[start : start + result.done]:
                        await msg.ack()
                    start += result.done
                    self.held = len(items) - start
                    backoff = self._retry
                if start >= len(items):
                    break
                if result is not None and result.done and not result.waiting:
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


def _redelivered(msg: Msg) -> bool:
    """Whether JetStream delivered `msg` before (read from its ack subject)."""
    # `msg.metadata` builds four objects and a datetime (~5 µs a frame); the common v1 ack
    # subject `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` needs one split.
    tokens = (msg.reply or "").split(".")
    if len(tokens) == _V1_ACK_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return tokens[4] != "1"
    return (msg.metadata.num_delivered or 1) > 1


def _log_stall(partition: int, error: str, *, first: bool) -> None:
    # Logged once per stall, not once per retry.
    if first:
        logger.warning("partition stalled; retrying", extra={"partition": partition, "error": error})
