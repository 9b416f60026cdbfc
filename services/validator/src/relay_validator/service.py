"""The validator as a whole: one `PartitionLoop` per owned partition over a shared `Validation`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from relay_validator.partition import PartitionLoop
from relay_validator.validation import Validation

__all__ = ["Stats", "ValidatorPipeline"]


@dataclass(frozen=True, slots=True)
class Stats:
    events_verified: int
    drops: dict[str, int]
    queue_depth: int
    partitions: tuple[int, ...]


class ValidatorPipeline:
    """Runs every owned partition until `stop`; a failing loop ends the whole pipeline."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        validation: Validation,
        partitions: tuple[int, ...],
        *,
        batch_size: int,
        fetch_timeout_seconds: float,
        retry_seconds: float,
    ) -> None:
        self.validation = validation
        self.loops = [
            PartitionLoop(
                nc,
                js,
                p,
                validation,
                batch_size=batch_size,
                fetch_timeout_seconds=fetch_timeout_seconds,
                retry_seconds=retry_seconds,
            )
            for p in partitions
        ]

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for loop in self.loops:
                group.create_task(loop.run(stop))

    def stats(self) -> Stats:
        return Stats(
            events_verified=self.validation.verified,
            drops=dict(self.validation.drops),
            queue_depth=sum(loop.held for loop in self.loops),
            partitions=tuple(loop.partition for loop in self.loops),
        )
