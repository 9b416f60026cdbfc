"""Prometheus metrics of the admin (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets (action names are the RPC names, peers the four services, codes gRPC status
names). gRPC call counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

__all__ = ["ACTIONS_TOTAL", "AUTH_FAILURES_TOTAL", "PEER_ERRORS_TOTAL"]

ACTIONS_TOTAL: Final = Counter(
    "relay_admin_actions_total", "Operator actions performed, by action and outcome.", ["action", "outcome"]
)
AUTH_FAILURES_TOTAL: Final = Counter(
    "relay_admin_auth_failures_total", "Calls refused UNAUTHENTICATED, by why (missing, invalid).", ["why"]
)
PEER_ERRORS_TOTAL: Final = Counter(
    "relay_admin_peer_errors_total",
    "Failed calls to a peer service, by peer and gRPC code.",
    ["peer", "code"],
)
