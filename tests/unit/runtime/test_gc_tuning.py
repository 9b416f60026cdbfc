"""relay_runtime.gc_tuning: what it freezes, when a frozen cycle is collected, pause metrics."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from relay_runtime import metrics
from relay_runtime.gc_tuning import frozen_startup_objects, keep_long_lived_frozen, observe_collections


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def _old_cycle() -> weakref.ref[Node]:
    """A reference cycle that became garbage after reaching the oldest generation."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect()  # survivors of a full collection are in generation 2
    return weakref.ref(a)


def test_startup_objects_are_frozen_inside_the_block_only() -> None:
    with frozen_startup_objects():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_survivors_are_frozen_and_a_full_collection_frees_frozen_cycles() -> None:
    ref = _old_cycle()
    task = asyncio.create_task(keep_long_lived_frozen(freeze_every_seconds=0.05, full_every_seconds=0.3))
    try:
        await asyncio.sleep(0.08)
        # The young generations were collected, not the old one: the cycle is frozen, not freed.
        assert gc.get_freeze_count() > 0
        assert ref() is not None
        await asyncio.sleep(0.4)
        assert ref() is None  # the periodic full collection unfroze and collected it
        assert gc.get_freeze_count() > 0  # and froze the survivors again
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _count(generation: str) -> float:
    for family in metrics.REGISTRY.collect():
        if family.name == "relay_gc_pause_seconds":
            for sample in family.samples:
                labels = sample.labels
                if sample.name.endswith("_count") and labels == {
                    "service": "gc-test",
                    "generation": generation,
                }:
                    return sample.value
    return 0.0


def test_each_collection_is_timed_while_observed() -> None:
    before = _count("2")
    with observe_collections("gc-test"):
        gc.collect()
    gc.collect()  # not observed any more
    assert _count("2") == before + 1
