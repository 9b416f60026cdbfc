"""Prometheus metrics of the slurper (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets. The behaviour that moves them lands with issue #4. gRPC call
counts and readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = ["FRAMES_PUBLISHED_TOTAL", "FRAMES_RECEIVED_TOTAL", "HOSTS_CONNECTED"]

FRAMES_RECEIVED_TOTAL: Final = Counter(
    "relay_slurper_frames_received_total", "Frames read from upstream hosts.", []
)

FRAMES_PUBLISHED_TOTAL: Final = Counter(
    "relay_slurper_frames_published_total", "Frames acked by RAW_FRAMES.", []
)

HOSTS_CONNECTED: Final = Gauge("relay_slurper_hosts_connected", "Upstream subscriptions currently open.", [])
