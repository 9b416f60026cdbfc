"""Prometheus metrics of the indexer (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets (event kinds, drop reasons). gRPC call counts and readiness come from
relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACCOUNTS",
    "BACKFILL_DIDS_TOTAL",
    "BACKFILL_PAGE_SECONDS",
    "BACKFILL_REQUESTS_TOTAL",
    "BATCH_SECONDS",
    "COMMITS_SKIPPED_TOTAL",
    "EVENTS_DROPPED_TOTAL",
    "EVENTS_INDEXED_TOTAL",
    "OPS_APPLIED_TOTAL",
]

EVENTS_INDEXED_TOTAL: Final = Counter(
    "relay_indexer_events_indexed_total", "Verified events applied to the state, by kind.", ["kind"]
)

EVENTS_DROPPED_TOTAL: Final = Counter(
    "relay_indexer_events_dropped_total", "Verified events not applied, by reason.", ["reason"]
)

OPS_APPLIED_TOTAL: Final = Counter(
    "relay_indexer_ops_applied_total", "Commit record ops applied to the collection directory."
)

COMMITS_SKIPPED_TOTAL: Final = Counter(
    "relay_indexer_commits_skipped_total", "Commits skipped as already applied (redeliveries)."
)

BATCH_SECONDS: Final = Histogram(
    "relay_indexer_batch_seconds",
    "Time to apply one batch of verified events (Postgres + RocksDB).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

ACCOUNTS: Final = Gauge("relay_indexer_accounts", "Accounts known to the relay.", [])

BACKFILL_REQUESTS_TOTAL: Final = Counter(
    "relay_indexer_backfill_requests_total",
    "Upstream XRPC requests made by backfill, by outcome "
    "(ok, rate_limited, server_error, transport_error, rejected).",
    ["outcome"],
)

BACKFILL_DIDS_TOTAL: Final = Counter(
    "relay_indexer_backfill_dids_total",
    "DIDs written to the collection index by backfill, by job kind (import, crawl).",
    ["kind"],
)

BACKFILL_PAGE_SECONDS: Final = Histogram(
    "relay_indexer_backfill_page_write_seconds",
    "Time to write one backfill page to RocksDB (synced) and commit its cursor to Postgres.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
