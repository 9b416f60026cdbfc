"""Reconnect schedule: exponential backoff with jitter, then a slow retry forever.

indigo gives a host up after 15 failed connects and an operator must re-add it, the most
common operator complaint. Here a host that failed ``offline_after`` times in a row is marked
offline and then retried on a slow period, for as long as the process runs; one successful
connection resets it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BackoffPolicy", "reconnect_delay"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """Parameters of the schedule (from config)."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0
    offline_after: int = 10
    offline_retry_seconds: float = 1800.0

    def is_offline(self, failures: int) -> bool:
        """Whether ``failures`` consecutive failed connects make the host offline."""
        return failures >= self.offline_after


def reconnect_delay(failures: int, policy: BackoffPolicy, jitter: float) -> float:
    """Seconds to wait before the next connect after ``failures`` consecutive failures.

    Args:
        failures: Consecutive failures so far (>= 1 after the first failure; 0 gives 0.0).
        policy: The schedule.
        jitter: A uniform random number in [0, 1); the delay is spread over [d/2, d) ("equal
            jitter") so that thousands of hosts dropped together by a network blip do not
            reconnect in lockstep, yet none retries much earlier than planned.
    """
    if failures <= 0:
        return 0.0
    if policy.is_offline(failures):
        nominal = policy.offline_retry_seconds
    else:
        nominal = min(policy.max_seconds, policy.base_seconds * 2.0 ** (failures - 1))
    return nominal / 2.0 + nominal / 2.0 * jitter
