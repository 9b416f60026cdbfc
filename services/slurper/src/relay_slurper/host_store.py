"""The slurper's view of durable host state, and the port through which it reaches it.

The indexer owns the hosts table, domain bans and relay settings (one owner per table); the
slurper only ever talks to it through :class:`HostStore`. The real implementation is
:class:`relay_slurper.indexer_client.IndexerHostStore` (gRPC); there is no other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from relay_core.statuses import HostStatus

from relay_slurper.rate_limits import RateLimits

__all__ = ["CrawlPolicy", "HostRecord", "HostStatus", "HostStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRecord:
    """A host as stored. ``cursor`` is the last upstream seq JetStream acked (0 = none yet)."""

    hostname: str
    status: HostStatus
    trusted: bool = False
    account_limit: int = 0
    """0 means "the relay-wide default"."""
    rate_overrides: RateLimits | None = None
    """Per-window overrides; a zero field keeps the computed value."""
    cursor: int = 0
    account_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlPolicy:
    """Whether public requestCrawl admits hosts, and how many new ones per day."""

    public_request_crawl: bool
    new_hosts_per_day: int


class HostStore(Protocol):
    """Durable host state (the indexer)."""

    async def list_hosts(self, statuses: Sequence[HostStatus] = ()) -> list[HostRecord]:
        """Every host in ``statuses`` (all when empty), oldest first."""
        ...

    async def get_host(self, hostname: str) -> HostRecord | None: ...

    async def create_host(self, hostname: str, *, trusted: bool) -> tuple[HostRecord, bool]:
        """Register ``hostname`` as active unless it exists; returns it and whether it was new."""
        ...

    async def set_host_status(self, hostname: str, status: HostStatus, reason: str) -> None: ...

    async def set_host_cursors(self, cursors: Mapping[str, int]) -> None:
        """Checkpoint many hosts' cursors in one call."""
        ...

    async def list_domain_bans(self) -> frozenset[str]: ...

    async def get_crawl_policy(self) -> CrawlPolicy | None:
        """The stored policy; None when never stored (or the store cannot keep one)."""
        ...

    async def set_crawl_policy(self, policy: CrawlPolicy) -> bool:
        """Persist ``policy``; False when the store cannot keep it (kept in memory only)."""
        ...
