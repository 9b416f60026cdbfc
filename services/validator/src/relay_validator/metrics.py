"""Prometheus metrics of the validator (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #4. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

__all__ = ["EVENTS_DROPPED_TOTAL", "EVENTS_VERIFIED_TOTAL"]

EVENTS_VERIFIED_TOTAL: Final = Counter(
    "relay_validator_events_verified_total", "Events accepted and published to VERIFIED, by kind.", ["kind"]
)

EVENTS_DROPPED_TOTAL: Final = Counter(
    "relay_validator_events_dropped_total", "Frames dropped, by bounded reason.", ["reason"]
)
