"""Prometheus metrics of the indexer (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #6. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = ["ACCOUNTS", "EVENTS_INDEXED_TOTAL"]

EVENTS_INDEXED_TOTAL: Final = Counter(
    "relay_indexer_events_indexed_total", "Verified events applied to the state, by kind.", ["kind"]
)

ACCOUNTS: Final = Gauge("relay_indexer_accounts", "Accounts known to the relay.", [])
