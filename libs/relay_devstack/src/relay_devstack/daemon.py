"""The supervisor process behind `up`: NATS, Postgres, migrations, six services and the router.

It runs in the foreground (`python -m relay_devstack supervise`); `up` starts it detached. It owns
everything it starts, so stopping it (SIGTERM/SIGINT, which `down` sends) stops the services
first, then the router, NATS and Postgres, and removes the pid and stack files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from relay_devstack.nats import NatsServer
from relay_devstack.postgres import PostgresCluster
from relay_devstack.router import Router
from relay_devstack.routes import Backend
from relay_devstack.stack import StackConfig, StateLayout, build_service_specs, service_ports
from relay_devstack.supervisor import ServiceEvent, ServiceSpec, Supervisor

__all__ = ["JsonLineFormatter", "configure_daemon_logging", "read_pid_file", "run_stack"]

logger = logging.getLogger(__name__)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line; messages that already are JSON objects pass through unchanged."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{"):
            return message
        return json.dumps({"level": record.levelname.lower(), "logger": record.name, "message": message})


def read_pid_file(layout: StateLayout) -> int | None:
    """The supervisor's pid if the pid file names a live dev stack supervisor, else None."""
    try:
        pid = int(layout.pid_file.read_text().strip())
        os.kill(pid, 0)
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            # Guard against pid reuse after a crash: the pid must still be a supervisor.
            if b"relay_devstack" not in cmdline.read():
                return None
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


async def run_stack(
    config: StackConfig,
    *,
    build_specs: Callable[[str, str], Sequence[ServiceSpec]] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Start everything, serve until SIGTERM/SIGINT, stop everything. Returns the exit status.

    Args:
        config: ports, limits and state dir.
        build_specs: ``(nats_url, database_url) -> specs`` to supervise instead of the six relay
            services (tests run stand-ins with the same env contract).
        stop: set it to stop the stack; by default SIGTERM/SIGINT do.
    """
    layout = config.layout
    layout.logs.mkdir(parents=True, exist_ok=True)
    if read_pid_file(layout) not in (None, os.getpid()):
        logger.error("a supervisor is already running for %s", layout.root)
        return 1
    layout.pid_file.write_text(f"{os.getpid()}\n")
    loop = asyncio.get_running_loop()
    handled_signals: tuple[signal.Signals, ...] = ()
    if stop is None:
        stop = asyncio.Event()
        handled_signals = (signal.SIGTERM, signal.SIGINT)
        for sig in handled_signals:
            loop.add_signal_handler(sig, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            nats = NatsServer(
                layout.nats_store,
                client_port=config.nats_client_port,
                monitor_port=config.nats_monitor_port,
                log_path=layout.logs / "nats.log",
            )
            endpoints = await asyncio.to_thread(nats.start)
            stack.callback(nats.stop)
            postgres = PostgresCluster(layout.postgres, database="relay")
            dsn = await asyncio.to_thread(postgres.start)
            stack.callback(postgres.stop)
            await _apply_migrations(dsn)

            if build_specs is None:
                chosen = build_service_specs(config, nats_url=endpoints.client_url, database_url=dsn)
            else:
                chosen = list(build_specs(endpoints.client_url, dsn))
            router = Router(_router_backends(config), port=config.router_port)
            await router.start()
            stack.push_async_callback(router.close)

            def write_state(_event: ServiceEvent | None = None) -> None:
                _write_stack_file(layout, config, supervisor, chosen, endpoints.client_url,
                                  endpoints.monitor_url, dsn, router.origin)  # fmt: skip

            supervisor = Supervisor(
                chosen,
                log_dir=layout.logs,
                poll_interval_seconds=config.poll_interval_seconds,
                on_event=write_state,
            )
            # Registered before start so a failure half way still stops what did start.
            stack.push_async_callback(supervisor.stop)
            await supervisor.start()
            write_state()
            logger.info("dev stack up; router at %s", router.origin)
            await stop.wait()
            logger.info("stopping dev stack")
        return 0
    finally:
        for sig in handled_signals:
            loop.remove_signal_handler(sig)
        layout.stack_file.unlink(missing_ok=True)
        if read_pid_file(layout) == os.getpid():
            layout.pid_file.unlink(missing_ok=True)


def _router_backends(config: StackConfig) -> dict[Backend, tuple[str, int]]:
    backends = {}
    for backend in Backend:
        http = service_ports(backend.value, config.port_offset).http
        assert http is not None, f"{backend} has no public HTTP port"
        backends[backend] = ("127.0.0.1", http)
    return backends


async def _apply_migrations(dsn: str) -> None:
    try:
        from relay_indexer.migrations import apply_migrations
    except ImportError as exc:
        logger.error("MIGRATIONS SKIPPED: relay_indexer.migrations not importable (%s)", exc)
        return
    applied = await apply_migrations(dsn)
    logger.info("migrations applied: %s", ", ".join(applied) if applied else "none pending")


def _write_stack_file(
    layout: StateLayout,
    config: StackConfig,
    supervisor: Supervisor,
    specs: Sequence[ServiceSpec],
    nats_url: str,
    nats_monitor_url: str,
    dsn: str,
    origin: str,
) -> None:
    states = {s.name: s for s in supervisor.states()}
    document: dict[str, Any] = {
        "supervisor_pid": os.getpid(),
        "updated_at": time.time(),
        "nats": {"client_url": nats_url, "monitor_url": nats_monitor_url},
        "postgres": {"dsn": dsn},
        "router": {"origin": origin},
        "services": [
            {
                "name": spec.name,
                "pid": states[spec.name].pid,
                "restarts": states[spec.name].restarts,
                "memory_limit_bytes": spec.memory_limit_bytes,
                "ports": dict(spec.ports),
                "health_url": spec.health_url,
            }
            for spec in specs
        ],
    }
    # Write then rename, so `status` never reads half a file.
    tmp = layout.stack_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2))
    tmp.replace(layout.stack_file)


def configure_daemon_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
