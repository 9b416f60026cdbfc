"""Events per second over the last minute, for GetStats (pure; the caller passes the clock)."""

from __future__ import annotations

from collections import deque

__all__ = ["RateMeter"]


class RateMeter:
    """Counts per whole second, kept for ``window_seconds``."""

    def __init__(self, window_seconds: int = 60) -> None:
        self._window = window_seconds
        self._buckets: deque[list[int]] = deque()

    def add(self, count: int, now: float) -> None:
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
        self._trim(second)

    def per_second(self, now: float) -> float:
        """Average over the window ending now (a partial first minute averages over less)."""
        second = int(now)
        self._trim(second)
        if not self._buckets:
            return 0.0
        span = max(1, min(self._window, second - self._buckets[0][0] + 1))
        return sum(count for _, count in self._buckets) / span

    def _trim(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self._window:
            self._buckets.popleft()
