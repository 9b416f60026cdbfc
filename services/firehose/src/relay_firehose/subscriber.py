"""A subscriber's bookkeeping: where it is in the log and what it has been sent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from relay_firehose.connection import Connection
from relay_firehose.log_entry import LogEntry

__all__ = ["Subscriber", "SubscriberState"]


class SubscriberState(StrEnum):
    STARTING = "starting"
    CATCHING_UP = "catching_up"
    """Served from the log at its own pace; never dropped for being slow."""
    LIVE = "live"
    """Served by the fan-out; dropped with ConsumerTooSlow when its buffer overflows."""


@dataclass(slots=True, eq=False)
class Subscriber:
    """One consumer of the stream: its connection plus progress counters."""

    conn: Connection
    start_cursor: int | None
    state: SubscriberState = SubscriberState.STARTING
    next_seq: int = 0
    """The first seq not yet considered for this subscriber (sent or skipped)."""
    sent_seq: int = 0
    """Last seq written to the socket."""
    sent_at_ns: int = 0
    """Publish time of the last seq written (lag in seconds is measured against it)."""
    sent_events: int = 0
    connected_at: float = field(default_factory=time.time)

    def send(self, entries: list[LogEntry], wire: bytes) -> None:
        """Write ``wire`` (the joined frames of ``entries``) and advance the counters."""
        if entries:
            self.conn.write(wire)
            last = entries[-1]
            self.sent_seq = last.seq
            self.sent_at_ns = last.published_at_ns
            self.sent_events += len(entries)
