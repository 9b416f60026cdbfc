"""The recent tail of the log kept in memory: where catching-up subscribers meet the live stream.

A subscriber replaying from an old cursor reads the stream at its own pace; once the next seq it
needs is held here, it takes the rest from memory and, when it has sent everything up to the
newest seq, joins the live set in the same synchronous step as the check, so nothing is sent twice
or skipped at the handoff. Sequences can skip (a scrubbed message), so each slot remembers its seq.
"""

from __future__ import annotations

from relay_firehose.log_entry import LogEntry

__all__ = ["EventRing"]


class EventRing:
    """Holds the entries with seq in ``[start, head]`` (at most ``capacity`` seqs).

    Args:
        capacity: How many seqs to hold.
        head: The newest seq already assigned when the ring starts empty.
    """

    def __init__(self, capacity: int, *, head: int) -> None:
        if capacity < 1:
            raise ValueError("ring capacity must be >= 1")
        self._capacity = capacity
        self._slots: list[tuple[int, LogEntry | None]] = [(-1, None)] * capacity
        self.head = head
        """Newest seq the ring has seen (entries or gaps)."""
        self.start = head + 1
        """Oldest seq held; ``head + 1`` when empty."""

    def covers(self, seq: int) -> bool:
        """Whether everything from ``seq`` up to ``head`` can be served from memory."""
        return self.start <= seq <= self.head + 1

    def append(self, entry: LogEntry) -> None:
        """Add the next entry; seqs at or below ``head`` are ignored (redelivery)."""
        self._put(entry.seq, entry)

    def skip(self, seq: int) -> None:
        """Record that ``seq`` exists but is not servable (dropped), so the head moves past it."""
        self._put(seq, None)

    def _put(self, seq: int, entry: LogEntry | None) -> None:
        if seq <= self.head:
            return
        capacity = self._capacity
        if seq - self.head > capacity:
            self.start = seq
        else:
            for gap in range(self.head + 1, seq):
                self._slots[gap % capacity] = (gap, None)
        self._slots[seq % capacity] = (seq, entry)
        self.head = seq
        if seq - self.start >= capacity:
            self.start = seq - capacity + 1

    def take(self, from_seq: int, *, max_bytes: int) -> tuple[list[LogEntry], int]:
        """Entries from ``from_seq`` on, up to about ``max_bytes`` of wire bytes.

        Returns:
            The entries (gaps skipped) and the seq to continue from.
        """
        if not self.covers(from_seq):
            raise ValueError(f"seq {from_seq} is not in the ring [{self.start}, {self.head}]")
        out: list[LogEntry] = []
        size = 0
        seq = from_seq
        slots, capacity = self._slots, self._capacity
        while seq <= self.head and size < max_bytes:
            slot_seq, entry = slots[seq % capacity]
            if slot_seq == seq and entry is not None:
                out.append(entry)
                size += len(entry.wire)
            seq += 1
        return out, seq
