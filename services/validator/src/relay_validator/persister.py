"""Persisting a partition's published segments in the background, in order, grouped.

Writing account states (`UpsertAccounts`: indexer + Postgres, ~20–30 ms) was most of every event's
latency when the partition waited for it before taking more frames. Here the partition hands each
published segment over and goes on judging; one task persists whatever queued up while the
previous write ran, as one merged write (group commit), then acks those segments' frames. Writes
stay in order because there is only ever one.

When a write fails, that group and every segment queued behind it (judged on top of its states)
are handed back through `take_failed`, their cached states already forgotten, for the partition to
judge again from the durable state before anything newer; their publications deduplicate.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from relay_validator import metrics
from relay_validator.errors import DependencyUnavailable
from relay_validator.validation import Item, Judged, Validation

__all__ = ["Persister", "Segment"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Segment:
    """A judged and published prefix of a batch, with its frames (acked once persisted)."""

    msgs: list[Msg]
    items: list[Item]
    judged: Judged


class Persister:
    """One partition's background writer.

    Args:
        validation: does the merged write (`persist`) and forgets failed states.
        partition: for logs.
    """

    def __init__(self, validation: Validation, partition: int) -> None:
        self._validation = validation
        self._partition = partition
        self._queue: list[Segment] = []
        self._writing = 0
        self._failed: list[Segment] = []
        self._failures = 0
        """Consecutive failed writes (backoff for judging them again)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        """Frames handed over and not yet acked."""
        return self._writing + sum(len(s.msgs) for s in self._queue)

    def add(self, segment: Segment) -> None:
        """Queue a segment; call `take_failed` first (a segment must not go behind a failure)."""
        self._queue.append(segment)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_all(), name=f"persist partition {self._partition}")

    @property
    def has_failed(self) -> bool:
        return bool(self._failed)

    def retry_after(self, first_seconds: float, max_seconds: float) -> float:
        """Backoff before judging failed segments again: doubles per consecutive failure."""
        return min(first_seconds * 2.0 ** max(self._failures - 1, 0), max_seconds)

    def take_failed(self) -> list[Segment]:
        """Segments whose write failed (oldest first), to be judged again; empties the list."""
        failed, self._failed = self._failed, []
        return failed

    async def drain(self) -> None:
        """Wait until everything handed over is written or has failed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _write_all(self) -> None:
        while self._queue:
            # No wait here: the write itself waits for company (`AccountWriter`, shared by every
            # partition), and what queues meanwhile goes in the next one.
            group, self._queue = self._queue, []
            self._writing = sum(len(s.msgs) for s in group)
            try:
                await self._validation.persist([s.judged for s in group])
            except Exception as exc:
                # Anything, not just a dependency: a group that silently went missing would come
                # back only after ack_wait, behind newer frames, as false chain breaks.
                if isinstance(exc, DependencyUnavailable):
                    metrics.DEPENDENCY_FAILURES_TOTAL.labels(exc.dependency).inc()
                elif isinstance(exc, NatsError | TimeoutError):
                    metrics.DEPENDENCY_FAILURES_TOTAL.labels("nats").inc()
                else:
                    logger.exception("unexpected error persisting account states")
                logger.warning(
                    "persisting account states failed; judging again",
                    extra={"partition": self._partition, "error": str(exc) or repr(exc)},
                )
                for later in self._queue:
                    self._validation.forget(later.judged)
                self._failed = [*self._failed, *group, *self._queue]
                self._queue = []
                self._failures += 1
                return
            finally:
                self._writing = 0
            self._failures = 0
            try:
                for segment in group:
                    for msg in segment.msgs:
                        await msg.ack()
            except NatsError as exc:
                # The states are durable; unacked frames come back later and are dropped as
                # stale replays (`redelivered_stale`), so this only costs their re-judging.
                logger.warning("acking persisted frames failed", extra={"error": repr(exc)})
