"""What the dev stack is made of: state dir layout, ports, and the six service specs.

Ports follow docs/ports.md; ``port_offset`` shifts every one of them (NATS, services, router) so a
second stack can run beside the first. Every service is given every service's port variables, so a
service that calls a peer (validator → resolver, admin → all) can find it under any offset.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from relay_devstack.limits import DEFAULT_MEMORY_LIMITS
from relay_devstack.supervisor import ServiceSpec

__all__ = [
    "free_port_offset",
    "SERVICE_NAMES",
    "ServicePorts",
    "StackConfig",
    "StateLayout",
    "build_service_specs",
    "service_ports",
]

SERVICE_NAMES: tuple[str, ...] = ("slurper", "validator", "resolver", "indexer", "firehose", "admin")
"""Start order; each service still waits for its own dependencies, this only shortens the wait."""

_GRPC_BASE, _OPS_BASE = 50051, 9101
_NATS_CLIENT, _NATS_MONITOR, _ROUTER = 4222, 8222, 2470
_HTTP_PORTS = {"slurper": 2471, "indexer": 2472, "firehose": 2473}


@dataclass(frozen=True, slots=True)
class StateLayout:
    """Where everything lives under ``--state-dir``."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def stack_file(self) -> Path:
        """JSON written by the supervisor: endpoints, pids, restart counts."""
        return self.root / "stack.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def nats_store(self) -> Path:
        return self.root / "nats"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"


@dataclass(frozen=True, slots=True)
class ServicePorts:
    grpc: int
    ops: int
    http: int | None


def service_ports(name: str, port_offset: int = 0) -> ServicePorts:
    """The ports of ``name`` per docs/ports.md, shifted by ``port_offset``."""
    index = SERVICE_NAMES.index(name)
    http = _HTTP_PORTS.get(name)
    return ServicePorts(
        grpc=_GRPC_BASE + index + port_offset,
        ops=_OPS_BASE + index + port_offset,
        http=None if http is None else http + port_offset,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StackConfig:
    """Everything `up` decides before the supervisor starts."""

    state_dir: Path
    port_offset: int = 0
    memory_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MEMORY_LIMITS))
    log_level: str = "INFO"
    poll_interval_seconds: float = 1.0

    @property
    def layout(self) -> StateLayout:
        return StateLayout(self.state_dir.resolve())

    @property
    def nats_client_port(self) -> int:
        return _NATS_CLIENT + self.port_offset

    @property
    def nats_monitor_port(self) -> int:
        return _NATS_MONITOR + self.port_offset

    @property
    def router_port(self) -> int:
        return _ROUTER + self.port_offset


def _stack_ports(port_offset: int) -> list[int]:
    """Every port a stack binds: NATS, the router and each service's gRPC, ops and HTTP ports."""
    ports = [_NATS_CLIENT + port_offset, _NATS_MONITOR + port_offset, _ROUTER + port_offset]
    for name in SERVICE_NAMES:
        p = service_ports(name, port_offset)
        ports += [p.grpc, p.ops] + ([p.http] if p.http is not None else [])
    return ports


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset(seed: int) -> int:
    """A ``--port-offset`` (a multiple of 100 from 1,000 to 15,400, so 50,056 + offset stays a
    valid port) at which every port of a stack is free on loopback; ``seed`` (e.g. a pid) spreads
    concurrent callers over different ranges."""
    start = (seed % 145) * 100
    for step in range(145):
        offset = 1_000 + (start + step * 100) % 14_500
        if all(_port_is_free(port) for port in _stack_ports(offset)):
            return offset
    raise RuntimeError("no free port range for a relay stack")


def build_service_specs(config: StackConfig, *, nats_url: str, database_url: str) -> list[ServiceSpec]:
    """One `ServiceSpec` per service: ``python -m relay_<name>`` with the venv's interpreter."""
    port_env: dict[str, str] = {}
    for name in SERVICE_NAMES:
        ports = service_ports(name, config.port_offset)
        port_env[f"RELAY_{name.upper()}_GRPC_PORT"] = str(ports.grpc)
        # How peers reach it (the same names the k3s ConfigMap sets).
        port_env[f"RELAY_{name.upper()}_ADDRESS"] = f"127.0.0.1:{ports.grpc}"
        port_env[f"RELAY_{name.upper()}_OPS_PORT"] = str(ports.ops)
        if ports.http is not None:
            port_env[f"RELAY_{name.upper()}_HTTP_PORT"] = str(ports.http)
    shared_env = {
        **port_env,
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": config.log_level,
        "RELAY_DEV_MODE": "1",
        # Service data lives in the state dir, not wherever `up` happened to be run from.
        "RELAY_INDEXER_ROCKSDB_PATH": str(config.layout.root / "indexer" / "collections"),
        "PYTHONUNBUFFERED": "1",
    }
    specs = []
    for name in SERVICE_NAMES:
        ports = service_ports(name, config.port_offset)
        role_ports = {"grpc": ports.grpc, "ops": ports.ops} | ({"http": ports.http} if ports.http else {})
        specs.append(
            ServiceSpec(
                name=name,
                argv=(sys.executable, "-m", f"relay_{name}"),
                memory_limit_bytes=config.memory_limits[name],
                env=shared_env,
                health_url=f"http://127.0.0.1:{ports.ops}/healthz",
                ports=role_ports,
            )
        )
    return specs
