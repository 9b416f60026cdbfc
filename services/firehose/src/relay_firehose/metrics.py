"""Prometheus metrics of the firehose (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #5. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = ["CONSUMERS", "EVENTS_SEQUENCED_TOTAL"]

EVENTS_SEQUENCED_TOTAL: Final = Counter(
    "relay_firehose_events_sequenced_total", "Verified events given a relay seq.", []
)

CONSUMERS: Final = Gauge("relay_firehose_consumers", "Connected subscribeRepos consumers.", [])
