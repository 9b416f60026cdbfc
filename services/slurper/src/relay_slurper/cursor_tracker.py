"""Which upstream seq is safe to persist as a host's cursor: the contiguous acked prefix.

Publishes to JetStream are pipelined, so acks may come back in any order and some may fail.
The cursor may only advance over frames that are all acked: after a crash the subscription
resumes from it, and anything after it is replayed (and de-duplicated by ``Nats-Msg-Id``).
Persisting a later seq while an earlier one is unacked could lose that earlier frame.
"""

from __future__ import annotations

from collections import deque

__all__ = ["CursorTracker"]


class CursorTracker:
    """Tracks sent and acked seqs of one host connection; seqs are sent strictly increasing.

    Args:
        cursor: The cursor the connection resumed from (None when starting live).
    """

    __slots__ = ("_acked", "_cursor", "_failed", "_sent")

    def __init__(self, cursor: int | None = None) -> None:
        self._cursor = cursor
        self._sent: deque[int] = deque()
        self._acked: set[int] = set()
        self._failed = False

    @property
    def cursor(self) -> int | None:
        """The highest seq such that it and every seq sent before it are acked."""
        return self._cursor

    @property
    def in_flight(self) -> int:
        """Frames sent and not yet acked (failed ones included)."""
        return len(self._sent)

    @property
    def failed(self) -> bool:
        """A publish failed: the cursor is stuck until the connection resumes from it."""
        return self._failed

    def sent(self, seq: int) -> None:
        """Record a frame handed to the publisher.

        Raises:
            ValueError: ``seq`` does not increase (the caller drops such frames earlier).
        """
        last = self._sent[-1] if self._sent else self._cursor
        if last is not None and seq <= last:
            raise ValueError(f"seq {seq} does not increase past {last}")
        self._sent.append(seq)

    def acked(self, seq: int) -> None:
        """Record JetStream's ack of ``seq`` and advance the cursor over the acked prefix."""
        self._acked.add(seq)
        sent, acked = self._sent, self._acked
        while sent and sent[0] in acked:
            head = sent.popleft()
            acked.discard(head)
            self._cursor = head

    def publish_failed(self, seq: int) -> None:
        """Record a failed publish: the cursor never passes ``seq`` on this connection."""
        del seq  # the unacked entry itself holds the cursor back
        self._failed = True

    def restart(self) -> int | None:
        """Forget in-flight frames for a new connection that resumes from :attr:`cursor`."""
        self._sent.clear()
        self._acked.clear()
        self._failed = False
        return self._cursor
