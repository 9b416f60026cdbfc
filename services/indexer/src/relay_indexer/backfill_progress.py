"""Progress arithmetic for backfill jobs, kept pure: the rate over a sliding window and the ETA.

The rate is measured in this process only (a resumed job starts a fresh window), over the last
`window_seconds`, so a pause or a burst of retries shows up within seconds instead of being
averaged over hours. The ETA prefers DIDs left / rate when the total is known (crawl: the hosts'
account counts); an import has no known total, so its ETA extrapolates the time per finished work
item, and is unknown (-1) until one item finished.
"""

from __future__ import annotations

from collections import deque

__all__ = ["RateMeter", "eta_seconds"]


class RateMeter:
    """DIDs per second over a sliding window of (time, count) samples."""

    def __init__(self, *, window_seconds: float = 10.0) -> None:
        self._window = window_seconds
        self._samples: deque[tuple[float, int]] = deque()
        self._started: float | None = None

    def add(self, now: float, count: int) -> None:
        if self._started is None:
            self._started = now
        self._samples.append((now, count))
        self._trim(now)

    def start(self, now: float) -> None:
        """Mark when work began, so the first page's DIDs count over the time they took."""
        if self._started is None:
            self._started = now

    def rate(self, now: float) -> float:
        self._trim(now)
        if self._started is None or not self._samples:
            return 0.0
        span = now - max(self._started, now - self._window)
        return sum(c for _, c in self._samples) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self._window:
            self._samples.popleft()


def eta_seconds(
    *,
    total: int,
    done: int,
    rate: float,
    items_total: int,
    items_done: int,
    elapsed_seconds: float,
) -> int:
    """Seconds left, or -1 when unknown.

    Args:
        total: Known total of DIDs (0 = unknown).
        done: DIDs done so far.
        rate: Current DIDs per second.
        items_total: Work items in the job.
        items_done: Work items finished.
        elapsed_seconds: Time this process has spent on the job.
    """
    if items_total and items_done >= items_total:
        return 0
    if total > done and rate > 0:
        return round((total - done) / rate)
    if items_done > 0 and elapsed_seconds > 0:
        return round(elapsed_seconds / items_done * (items_total - items_done))
    return -1
