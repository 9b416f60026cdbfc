"""Prometheus plumbing shared by services: the registry, runtime-wide metrics, text rendering.

Service metrics are declared in each service's own ``metrics.py`` on :data:`REGISTRY` with names
``relay_<service>_<thing>_<unit|total>``. The metrics here are the ones the runtime itself
maintains for every service; their ``service`` label is one of six fixed names.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = [
    "CONTENT_TYPE",
    "GC_PAUSE_SECONDS",
    "GRPC_REQUESTS_TOTAL",
    "GRPC_REQUEST_SECONDS",
    "READY",
    "REGISTRY",
    "SERVICE_INFO",
    "render",
]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

SERVICE_INFO: Final = Gauge(
    "relay_service_info", "Always 1; labels identify the running service.", ["service", "version"]
)
READY: Final = Gauge("relay_service_ready", "1 when every readiness check passes.", ["service"])
GRPC_REQUESTS_TOTAL: Final = Counter(
    "relay_grpc_server_requests_total",
    "gRPC calls handled, by method and final status code.",
    ["service", "method", "code"],
)
GC_PAUSE_SECONDS: Final = Histogram(
    "relay_gc_pause_seconds",
    "Garbage collections (each stops the event loop), by generation (2 = full).",
    ["service", "generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

GRPC_REQUEST_SECONDS: Final = Histogram(
    "relay_grpc_server_request_seconds",
    "gRPC handler latency.",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
