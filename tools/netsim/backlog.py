"""A host's replay buffer: the last frames it sent, for `subscribeRepos?cursor=` replay.

A real PDS keeps its sequencer log in a database and answers a cursor from it; the simulator keeps a
bounded in-memory window instead, so memory stays flat over long runs. The window is what makes
the two cursor errors testable: a cursor before the window gets an `#info OutdatedCursor` and the
whole window, a cursor past the newest seq gets a `FutureCursor` error frame and a close.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Backlog", "CursorOutcome", "Replay"]


class CursorOutcome(StrEnum):
    """How a subscription's cursor relates to the backlog window."""

    LIVE = "live"
    """No cursor: start with the next live event."""
    REPLAY = "replay"
    """The cursor is inside the window: replay every frame after it."""
    OUTDATED = "outdated"
    """The cursor is older than the window: tell the client, then replay the whole window."""
    FUTURE = "future"
    """The cursor is past the newest seq: an error frame, then close."""


@dataclass(frozen=True, slots=True)
class Replay:
    """What to send before going live."""

    outcome: CursorOutcome
    frames: tuple[bytes, ...]


class Backlog:
    """The newest frames of one host, bounded by count and by bytes.

    Frames are kept in send order with the seq they were sent under. Seqs are normally strictly
    increasing, but a deliberately broken `seq_not_increasing` frame repeats one; replay keeps
    send order and selects by `seq > cursor`, so such a frame is replayed exactly when the frame
    whose seq it repeats is.

    Args:
        max_frames: keep at most this many frames.
        max_bytes: keep at most this many frame bytes (always at least the newest frame).
    """

    __slots__ = ("_bytes", "_evicted_seq", "_frames", "_head_seq", "max_bytes", "max_frames")

    def __init__(self, *, max_frames: int = 1000, max_bytes: int = 4 * 1024 * 1024) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("backlog bounds must be positive")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[tuple[int, bytes]] = deque()
        self._bytes = 0
        self._head_seq = 0
        """Highest seq ever appended (0 = none yet); survives eviction."""
        self._evicted_seq = 0
        """Highest seq dropped from the window: a cursor below it has missed events."""

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def head_seq(self) -> int:
        """The highest seq this host has sent (0 before the first frame)."""
        return self._head_seq

    @property
    def oldest_seq(self) -> int | None:
        """The seq of the oldest frame still held, or None when empty."""
        return self._frames[0][0] if self._frames else None

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, seq: int, frame: bytes) -> None:
        """Record a sent frame, evicting the oldest ones past either bound."""
        self._frames.append((seq, frame))
        self._bytes += len(frame)
        self._head_seq = max(self._head_seq, seq)
        while len(self._frames) > 1 and (len(self._frames) > self.max_frames or self._bytes > self.max_bytes):
            seq_gone, old = self._frames.popleft()
            self._bytes -= len(old)
            self._evicted_seq = max(self._evicted_seq, seq_gone)

    def replay(self, cursor: int | None) -> Replay:
        """Decide what a new subscriber with `cursor` gets before live events.

        A cursor equal to the head seq replays nothing (the client has everything). A cursor below
        the highest evicted seq means the client missed frames nobody holds any more: OUTDATED.
        """
        if cursor is None:
            return Replay(CursorOutcome.LIVE, ())
        if cursor > self._head_seq:
            return Replay(CursorOutcome.FUTURE, ())
        if cursor < self._evicted_seq:
            return Replay(CursorOutcome.OUTDATED, tuple(frame for _, frame in self._frames))
        return Replay(CursorOutcome.REPLAY, tuple(frame for seq, frame in self._frames if seq > cursor))
