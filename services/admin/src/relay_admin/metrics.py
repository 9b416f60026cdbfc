"""Prometheus metrics of the admin (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #7. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

__all__ = ["ACTIONS_TOTAL"]

ACTIONS_TOTAL: Final = Counter(
    "relay_admin_actions_total", "Operator actions performed, by action and outcome.", ["action", "outcome"]
)
