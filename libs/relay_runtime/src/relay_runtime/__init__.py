"""relay_runtime: how every relay service lives (config, logging, metrics, ops HTTP, gRPC,
tracing, the NATS contract and the service lifecycle).

Import from the concept's module (``relay_runtime.streams``, ``relay_runtime.service``...);
the names re-exported here are the ones every ``main.py`` needs.
"""

from __future__ import annotations

from relay_runtime.config import RuntimeConfig
from relay_runtime.logging import configure_logging
from relay_runtime.readiness import CheckResult
from relay_runtime.service import ServiceRuntime

__all__ = ["CheckResult", "RuntimeConfig", "ServiceRuntime", "configure_logging"]
