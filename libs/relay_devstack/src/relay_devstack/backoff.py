"""Restart backoff for supervised services.

A service that dies right after starting (bad config, port taken, missing migration) would otherwise
be restarted in a tight loop that floods its log and steals the CPU from everything else. Delays
double per consecutive quick failure up to a cap; a run that lasted ``stable_after_seconds`` counts
as healthy and resets the streak, so a crash after hours restarts almost at once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RestartBackoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartBackoff:
    """Exponential backoff with a cap, keyed by the number of consecutive quick failures."""

    initial_seconds: float = 0.5
    """Delay before the first restart of a streak."""
    multiplier: float = 2.0
    max_seconds: float = 30.0
    """Cap, so a fixed service comes back within this long."""
    stable_after_seconds: float = 30.0
    """A run at least this long resets the streak."""

    def __post_init__(self) -> None:
        if self.initial_seconds < 0 or self.max_seconds < self.initial_seconds or self.multiplier < 1:
            raise ValueError(f"inconsistent backoff {self!r}")

    def next_streak(self, streak: int, run_seconds: float) -> int:
        """The failure streak after a run of ``run_seconds`` that ended in a restart."""
        return 1 if run_seconds >= self.stable_after_seconds else streak + 1

    def delay_seconds(self, streak: int) -> float:
        """Delay before restarting after ``streak`` consecutive quick failures (``streak >= 1``)."""
        if streak <= 1:
            return self.initial_seconds
        # Bound the exponent so huge streaks cannot overflow a float.
        exponent = min(streak - 1, 64)
        return min(self.max_seconds, self.initial_seconds * self.multiplier**exponent)
