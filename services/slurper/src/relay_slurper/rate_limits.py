"""Per-host event rate limits in three windows (second, hour, day) that pace, never drop.

A host over any window is simply not read until that window rolls over: its frames wait in the
kernel's socket buffer and then on the upstream's side, which is what TCP backpressure is for.
Nothing is dropped, and the upstream's own cursor replay covers a disconnect that a long wait
may cause. Windows are fixed buckets (aligned to multiples of their length) so the state per
host is three counters.

The window sizes scale with the host's account limit (a PDS allowed more accounts may send more
events) and trusted hosts get a multiplier; a host's own non-zero limits override both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RateLimiter", "RateLimits", "limits_for_host"]

_SECOND: Final = 1.0
_HOUR: Final = 3600.0
_DAY: Final = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """Events allowed per window; all positive."""

    per_second: int
    per_hour: int
    per_day: int


def limits_for_host(
    *,
    account_limit: int,
    trusted: bool,
    base: RateLimits,
    trusted_multiplier: int,
    overrides: RateLimits | None = None,
) -> RateLimits:
    """The windows for one host.

    Scaling: per second ``base + account_limit // 1000``, per hour ``base + account_limit``, per
    day ``base + 10 * account_limit``; times ``trusted_multiplier`` for trusted hosts. A non-zero
    field of ``overrides`` (the host's stored limits) replaces the computed value.
    """
    factor = trusted_multiplier if trusted else 1
    computed = RateLimits(
        per_second=(base.per_second + account_limit // 1000) * factor,
        per_hour=(base.per_hour + account_limit) * factor,
        per_day=(base.per_day + 10 * account_limit) * factor,
    )
    if overrides is None:
        return computed
    return RateLimits(
        per_second=overrides.per_second or computed.per_second,
        per_hour=overrides.per_hour or computed.per_hour,
        per_day=overrides.per_day or computed.per_day,
    )


class RateLimiter:
    """Three fixed-window counters for one host.

    ``acquire(now)`` either counts the event in every window and returns 0.0, or counts nothing
    and returns how long to wait until the blocking window(s) roll over. The caller sleeps that
    long without reading the socket, then asks again.
    """

    __slots__ = ("_counts", "_limits", "_second_end", "_starts")

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._starts = [0.0, 0.0, 0.0]
        self._counts = [0, 0, 0]
        self._second_end = 0.0
        """End of the second window the last call saw (0: none yet)."""

    @property
    def limits(self) -> RateLimits:
        return self._limits

    def update(self, limits: RateLimits) -> None:
        """New sizes (account limit or trust changed); counts so far are kept."""
        self._limits = limits

    def acquire(self, now: float) -> float:
        """Count one event at ``now`` (seconds, monotonic); return 0.0, or the wait in seconds."""
        counts, limits = self._counts, self._limits
        # Every event passes here: within the second window of the last call, the hour and day
        # windows are the same too (their bounds are whole seconds), so no window rolls over.
        if (
            self._starts[0] <= now < self._second_end
            and counts[0] < limits.per_second
            and counts[1] < limits.per_hour
            and counts[2] < limits.per_day
        ):
            counts[0] += 1
            counts[1] += 1
            counts[2] += 1
            return 0.0
        return self._acquire_slow(now)

    def _acquire_slow(self, now: float) -> float:
        sizes = (_SECOND, _HOUR, _DAY)
        caps = (self._limits.per_second, self._limits.per_hour, self._limits.per_day)
        wait = 0.0
        for i in range(3):
            start = now - now % sizes[i]
            if start != self._starts[i]:
                self._starts[i] = start
                self._counts[i] = 0
            if self._counts[i] >= caps[i]:
                wait = max(wait, start + sizes[i] - now)
        self._second_end = self._starts[0] + _SECOND
        if wait > 0.0:
            return wait
        for i in range(3):
            self._counts[i] += 1
        return 0.0
