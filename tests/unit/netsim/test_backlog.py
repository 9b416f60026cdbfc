"""Backlog window and cursor decisions (pure; no loop, no sockets)."""

from __future__ import annotations

import pytest

from tools.netsim.backlog import Backlog, CursorOutcome


def _filled(n: int, **bounds: int) -> Backlog:
    backlog = Backlog(**bounds)
    for seq in range(1, n + 1):
        backlog.append(seq, f"frame{seq}".encode())
    return backlog


def test_no_cursor_is_live_only() -> None:
    replay = _filled(3).replay(None)
    assert replay.outcome is CursorOutcome.LIVE
    assert replay.frames == ()


def test_cursor_inside_window_replays_after_it() -> None:
    replay = _filled(5).replay(2)
    assert replay.outcome is CursorOutcome.REPLAY
    assert replay.frames == (b"frame3", b"frame4", b"frame5")


def test_cursor_zero_replays_everything_when_nothing_evicted() -> None:
    replay = _filled(3).replay(0)
    assert replay.outcome is CursorOutcome.REPLAY
    assert len(replay.frames) == 3


def test_cursor_at_head_replays_nothing() -> None:
    replay = _filled(4).replay(4)
    assert replay.outcome is CursorOutcome.REPLAY
    assert replay.frames == ()


def test_cursor_past_head_is_future() -> None:
    assert _filled(4).replay(5).outcome is CursorOutcome.FUTURE
    assert Backlog().replay(1).outcome is CursorOutcome.FUTURE


def test_count_bound_evicts_oldest_and_outdates_old_cursors() -> None:
    backlog = _filled(10, max_frames=4)
    assert len(backlog) == 4
    assert backlog.oldest_seq == 7
    assert backlog.head_seq == 10
    outdated = backlog.replay(3)
    assert outdated.outcome is CursorOutcome.OUTDATED
    assert outdated.frames == (b"frame7", b"frame8", b"frame9", b"frame10")
    # Cursor 6 missed nothing: 7.. are all still held.
    assert backlog.replay(6).outcome is CursorOutcome.REPLAY


def test_byte_bound_evicts_but_keeps_newest_frame() -> None:
    backlog = Backlog(max_frames=100, max_bytes=10)
    backlog.append(1, b"x" * 6)
    backlog.append(2, b"y" * 6)
    assert len(backlog) == 1
    assert backlog.size_bytes == 6
    backlog.append(3, b"z" * 50)
    assert len(backlog) == 1
    assert backlog.oldest_seq == 3


def test_repeated_seq_replays_with_the_frame_it_repeats() -> None:
    backlog = _filled(3)
    backlog.append(3, b"dup3")
    backlog.append(4, b"frame4")
    assert backlog.replay(2).frames == (b"frame3", b"dup3", b"frame4")
    assert backlog.replay(3).frames == (b"frame4",)


@pytest.mark.parametrize("bounds", [{"max_frames": 0}, {"max_bytes": 0}])
def test_bounds_must_be_positive(bounds: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Backlog(**bounds)
