"""The resolver's instrumentation seam: what the domain code reports, not how it is exported.

`metrics.PrometheusObserver` is the real implementation; the domain modules only see this
protocol, so they stay free of a global metrics registry and tests can read counts directly.
"""

from __future__ import annotations

from typing import Protocol

from relay_resolver.cache import CacheLookup, EvictionReason

__all__ = ["ResolverObserver"]


class ResolverObserver(Protocol):
    """Receives every event the metrics are built from. All labels are bounded sets."""

    def cache_lookup(self, result: CacheLookup) -> None:
        """One cache lookup (hit / miss / expired)."""

    def cache_evicted(self, reason: EvictionReason) -> None:
        """One entry left the cache."""

    def cache_size(self, entries: int) -> None:
        """The cache now holds `entries` entries."""

    def resolved(self, outcome: str) -> None:
        """One DID answered: `ok` or a `FailureKind` value."""

    def fetches_in_flight(self, count: int) -> None:
        """Distinct DIDs currently being fetched."""

    def http_request(self, source: str, result: str, seconds: float) -> None:
        """One outbound request finished (`source` is `plc` or `web`)."""
