"""Who may add hosts through the public requestCrawl, and how many new ones per day.

The policy (on/off and the daily quota) is an operator setting persisted by the indexer, so
it survives restarts; the quota's count is in memory (a restart forgives at most one day's
worth). Operators adding hosts over gRPC and the upstream relay's host list bypass both.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from relay_slurper.host_store import CrawlPolicy

__all__ = ["NewHostQuota"]

_DAY_SECONDS: Final = 86400.0


class NewHostQuota:
    """Rolling 24-hour count of hosts admitted through requestCrawl."""

    __slots__ = ("_admitted",)

    def __init__(self) -> None:
        self._admitted: deque[float] = deque()

    def used(self, now: float) -> int:
        """Admissions within the last 24 hours before ``now`` (seconds, monotonic)."""
        while self._admitted and self._admitted[0] <= now - _DAY_SECONDS:
            self._admitted.popleft()
        return len(self._admitted)

    def try_admit(self, now: float, policy: CrawlPolicy) -> bool:
        """Count one new host if the policy's daily limit allows it."""
        if self.used(now) >= policy.new_hosts_per_day:
            return False
        self._admitted.append(now)
        return True
