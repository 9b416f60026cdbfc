"""Restart backoff: doubling, cap, reset after a stable run."""

from __future__ import annotations

import pytest
from relay_devstack.backoff import RestartBackoff


def test_delays_double_up_to_the_cap() -> None:
    backoff = RestartBackoff(initial_seconds=0.5, multiplier=2, max_seconds=30)
    assert [backoff.delay_seconds(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay_seconds(10_000) == 30


def test_quick_failures_grow_the_streak_and_a_stable_run_resets_it() -> None:
    backoff = RestartBackoff(stable_after_seconds=30)
    streak = 0
    for _ in range(3):
        streak = backoff.next_streak(streak, run_seconds=0.2)
    assert streak == 3
    assert backoff.next_streak(streak, run_seconds=3600) == 1


def test_inconsistent_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        RestartBackoff(initial_seconds=10, max_seconds=1)
    with pytest.raises(ValueError):
        RestartBackoff(multiplier=0.5)
