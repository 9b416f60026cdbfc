"""Prometheus metrics of the resolver (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #4. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = ["CACHE_ENTRIES", "RESOLUTIONS_TOTAL"]

RESOLUTIONS_TOTAL: Final = Counter(
    "relay_resolver_resolutions_total",
    "DID resolutions answered, by outcome (ok or error code).",
    ["outcome"],
)

CACHE_ENTRIES: Final = Gauge("relay_resolver_cache_entries", "Identities held in the cache.", [])
