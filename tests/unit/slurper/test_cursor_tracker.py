from __future__ import annotations

import random

import pytest
from relay_slurper.cursor_tracker import CursorTracker


def test_cursor_is_the_contiguous_acked_prefix() -> None:
    tracker = CursorTracker(10)
    for seq in (11, 12, 15, 20):
        tracker.sent(seq)
    tracker.acked(12)
    tracker.acked(20)
    assert tracker.cursor == 10  # 11 still pending
    tracker.acked(11)
    assert tracker.cursor == 12
    tracker.acked(15)
    assert tracker.cursor == 20
    assert tracker.in_flight == 0


def test_a_failed_publish_holds_the_cursor_and_restart_resumes_from_it() -> None:
    tracker = CursorTracker(None)
    for seq in (1, 2, 3):
        tracker.sent(seq)
    tracker.acked(1)
    tracker.publish_failed(2)
    tracker.acked(3)
    assert tracker.failed
    assert tracker.cursor == 1
    assert tracker.restart() == 1
    assert not tracker.failed and tracker.in_flight == 0
    tracker.sent(2)  # the upstream replays 2 and 3
    tracker.sent(3)
    tracker.acked(3)
    tracker.acked(2)
    assert tracker.cursor == 3


def test_seqs_must_increase() -> None:
    tracker = CursorTracker(5)
    with pytest.raises(ValueError):
        tracker.sent(5)
    tracker.sent(6)
    with pytest.raises(ValueError):
        tracker.sent(6)


def test_random_ack_orders_never_pass_an_unacked_seq() -> None:
    rng = random.Random(4)
    for _ in range(200):
        tracker = CursorTracker(0)
        seqs = sorted(rng.sample(range(1, 500), 40))
        for seq in seqs:
            tracker.sent(seq)
        order = seqs[:]
        rng.shuffle(order)
        acked: set[int] = set()
        for seq in order:
            tracker.acked(seq)
            acked.add(seq)
            expected = 0
            for s in seqs:
                if s not in acked:
                    break
                expected = s
            assert tracker.cursor == expected
