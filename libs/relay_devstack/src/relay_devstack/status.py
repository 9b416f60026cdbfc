"""Read the running stack's description and render the "where does everything listen" table."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from relay_devstack.limits import format_bytes
from relay_devstack.stack import StateLayout

__all__ = ["load_stack", "probe_health", "render_table", "service_health"]


def load_stack(layout: StateLayout) -> dict[str, Any] | None:
    """The supervisor's stack file, or None when no stack has written one."""
    try:
        document: dict[str, Any] = json.loads(layout.stack_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return document


def probe_health(url: str, timeout_seconds: float = 1.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def service_health(stack: dict[str, Any]) -> dict[str, bool]:
    """Probe every service's health URL in parallel; services without one count as healthy."""
    services = stack["services"]
    with ThreadPoolExecutor(max_workers=len(services) or 1) as pool:
        results = pool.map(lambda s: probe_health(s["health_url"]) if s["health_url"] else True, services)
        return {s["name"]: ok for s, ok in zip(services, results, strict=True)}


def render_table(stack: dict[str, Any], health: dict[str, bool] | None = None) -> str:
    """A plain-text table of services plus NATS, Postgres and the public origin."""
    rows = [("service", "health", "pid", "restarts", "mem limit", "gRPC", "ops", "HTTP")]
    for service in stack["services"]:
        ports = service["ports"]
        state = "-" if health is None else ("ok" if health.get(service["name"]) else "DOWN")
        rows.append((
            service["name"], state, str(service["pid"] or "-"), str(service["restarts"]),
            format_bytes(service["memory_limit_bytes"]),
            _addr(ports.get("grpc")), _addr(ports.get("ops")), _addr(ports.get("http")),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines += [
        "",
        f"public origin  {stack['router']['origin']}",
        f"NATS           {stack['nats']['client_url']}  (monitor {stack['nats']['monitor_url']})",
        f"Postgres       {stack['postgres']['dsn']}",
    ]
    return "\n".join(lines)


def _addr(port: int | None) -> str:
    return "-" if port is None else f"127.0.0.1:{port}"
