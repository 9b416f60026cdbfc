"""Stream definitions for tests that need a JetStream stream of their own."""

from __future__ import annotations

from relay_runtime.streams import Retention, StreamDef


def scratch_stream(name: str, retention: Retention = Retention.WORK_QUEUE) -> StreamDef:
    """A small stream named `name` on subjects `<name lower>.*` (work queue unless told)."""
    return StreamDef(
        name=name,
        subjects=(f"{name.lower()}.*",),
        retention=retention,
        description="test stream. Publisher: test. Consumer: test.",
        max_age_seconds=60,
        discard_new=retention is Retention.WORK_QUEUE,
        duplicate_window_seconds=30,
    )
