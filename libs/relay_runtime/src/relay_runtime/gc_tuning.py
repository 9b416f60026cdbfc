"""Keeping long-lived objects out of CPython's full garbage collections.

A full (generation 2) collection walks every tracked object, and it stops the event loop while it
does: every partition, connection and timer of the service at once. Two kinds of long-lived
objects make it slow here:

- what exists at startup (modules, protobuf descriptors, clients): the validator's full
  collections took ~30 ms each at 1,000 events/s, 4 in 25 s;
- caches at production size: 200,000 account states (the validator's default) are ~810,000
  tracked objects and an ~80 ms full collection, triggered again each time a quarter of that has
  been replaced (every few tens of seconds at 1,000 events/s).

So startup objects are frozen (CPython's permanent generation; reference counting still frees
them), and while serving, survivors of the young generations are frozen every minute. Frozen
objects are never scanned, so a reference cycle among them is not collected until it is unfrozen:
every ten minutes everything is unfrozen, collected in full (one pause) and frozen again, which
bounds what such cycles can hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from relay_runtime import metrics

__all__ = ["frozen_startup_objects", "keep_long_lived_frozen", "observe_collections", "timed_collections"]

FREEZE_EVERY_SECONDS: Final = 60.0
FULL_COLLECTION_EVERY_SECONDS: Final = 600.0


@contextlib.contextmanager
def frozen_startup_objects() -> Iterator[None]:
    """Collect, then freeze what survives, for the duration of the block.

    Unfrozen on the way out, so a process that starts many runtimes (tests) does not keep their
    cycles.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def keep_long_lived_frozen(
    *,
    freeze_every_seconds: float = FREEZE_EVERY_SECONDS,
    full_every_seconds: float = FULL_COLLECTION_EVERY_SECONDS,
) -> None:
    """Run until cancelled: freeze the young generations' survivors every `freeze_every_seconds`;
    every `full_every_seconds`, unfreeze, collect everything once and freeze again."""
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every_seconds)
        if time.monotonic() - last_full >= full_every_seconds:
            gc.unfreeze()
            gc.collect()
            last_full = time.monotonic()
        else:
            # Young generations only (cheap): garbage made since the last freeze goes now, and
            # what survives is what the caches keep.
            gc.collect(1)
        gc.freeze()


@contextlib.contextmanager
def timed_collections(record: Callable[[int, float], None]) -> Iterator[None]:
    """Call ``record(generation, seconds)`` after every collection meanwhile."""
    started = 0.0

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            record(info["generation"], time.perf_counter() - started)

    gc.callbacks.append(on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(on_gc)


def observe_collections(service: str) -> contextlib.AbstractContextManager[None]:
    """Time every collection into ``relay_gc_pause_seconds{service, generation}`` meanwhile."""
    histogram = metrics.GC_PAUSE_SECONDS
    return timed_collections(
        lambda generation, seconds: histogram.labels(service, str(generation)).observe(seconds)
    )
