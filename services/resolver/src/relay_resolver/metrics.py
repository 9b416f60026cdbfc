"""Prometheus metrics of the resolver (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets (`FailureKind`, `CacheLookup`, `EvictionReason`, `plc`/`web`, status
classes), never a DID or a host. gRPC call counts and readiness come from relay_runtime.metrics.
`PrometheusObserver` is how the domain code (which only knows `ResolverObserver`) moves them.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from relay_resolver.cache import CacheLookup, EvictionReason

__all__ = [
    "CACHE_ENTRIES",
    "CACHE_EVICTIONS_TOTAL",
    "CACHE_LOOKUPS_TOTAL",
    "FETCHES_IN_FLIGHT",
    "HTTP_REQUEST_SECONDS",
    "RESOLUTIONS_TOTAL",
    "PrometheusObserver",
]

RESOLUTIONS_TOTAL: Final = Counter(
    "relay_resolver_resolutions_total",
    "DID resolutions answered, by outcome (ok or error code).",
    ["outcome"],
)

CACHE_ENTRIES: Final = Gauge("relay_resolver_cache_entries", "Identities held in the cache.", [])

CACHE_LOOKUPS_TOTAL: Final = Counter(
    "relay_resolver_cache_lookups_total",
    "Cache lookups by result (hit, miss, expired); fresh=true requests do not look up.",
    ["result"],
)

CACHE_EVICTIONS_TOTAL: Final = Counter(
    "relay_resolver_cache_evictions_total",
    "Entries that left the cache, by reason (capacity, expired, invalidated).",
    ["reason"],
)

FETCHES_IN_FLIGHT: Final = Gauge(
    "relay_resolver_fetches_in_flight", "DID document fetches running or waiting for a slot.", []
)

HTTP_REQUEST_SECONDS: Final = Histogram(
    "relay_resolver_http_request_seconds",
    "Outbound DID document requests, by source (plc, web) and result (2xx..5xx, timeout, ...).",
    ["source", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class PrometheusObserver:
    """The `ResolverObserver` that moves the metrics above."""

    def cache_lookup(self, result: CacheLookup) -> None:
        CACHE_LOOKUPS_TOTAL.labels(result.value).inc()

    def cache_evicted(self, reason: EvictionReason) -> None:
        CACHE_EVICTIONS_TOTAL.labels(reason.value).inc()

    def cache_size(self, entries: int) -> None:
        CACHE_ENTRIES.set(entries)

    def resolved(self, outcome: str) -> None:
        RESOLUTIONS_TOTAL.labels(outcome).inc()

    def fetches_in_flight(self, count: int) -> None:
        FETCHES_IN_FLIGHT.set(count)

    def http_request(self, source: str, result: str, seconds: float) -> None:
        HTTP_REQUEST_SECONDS.labels(source, result).observe(seconds)
