"""Run services as separate processes, each under its own memory limit, restarting only the one
that dies or grows past its limit.

Each service is its own session (process group), so a kill reaches any children it spawned and
never the supervisor or its siblings. Memory is measured as RSS of the process plus all its
descendants, polled every ``poll_interval_seconds``; the brief window between polls is why the
limit is a supervisor policy rather than a hard cap (cgroup v1 on the dev machines we run on does
not let an unprivileged supervisor set one).

Every lifecycle change is reported as a `ServiceEvent`, logged as one JSON line and handed to the
optional ``on_event`` callback (the dev stack uses it to refresh its state file).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from relay_devstack.backoff import RestartBackoff

__all__ = ["EventReason", "ServiceEvent", "ServiceSpec", "ServiceState", "Supervisor", "tree_rss_bytes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec:
    """How to run one supervised process."""

    name: str
    argv: tuple[str, ...]
    memory_limit_bytes: int
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to (and overriding) the supervisor's own environment."""
    health_url: str | None = None
    """``/healthz`` URL probed by `up` and `status`; None for services without one."""
    ports: Mapping[str, int] = field(default_factory=dict)
    """Where it listens, by role (``grpc``, ``ops``, ``http``), for the status table."""


class EventReason(StrEnum):
    STARTED = "started"
    MEMORY_LIMIT = "memory_limit"
    EXITED = "exited"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceEvent:
    """One lifecycle change of one service; its JSON form is the supervisor's log line."""

    service: str
    reason: EventReason
    pid: int
    restarts: int
    rss_bytes: int | None = None
    limit_bytes: int | None = None
    exit_code: int | None = None
    signal: str | None = None
    restart_in_seconds: float | None = None

    def to_json(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps({"event": "service", **fields}, sort_keys=True)


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A snapshot for the state file and status table."""

    name: str
    pid: int | None
    restarts: int


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` plus every descendant; 0 once the process is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


class Supervisor:
    """Keeps every `ServiceSpec` running until `stop`."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        *,
        log_dir: Path,
        poll_interval_seconds: float = 1.0,
        backoff: RestartBackoff = RestartBackoff(),  # noqa: B008 - frozen, shared safely
        stop_grace_seconds: float = 10.0,
        on_event: Callable[[ServiceEvent], None] | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate service names in {names}")
        self.specs = {s.name: s for s in specs}
        self.log_dir = log_dir
        self.poll_interval_seconds = poll_interval_seconds
        self.backoff = backoff
        self.stop_grace_seconds = stop_grace_seconds
        self._on_event = on_event
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._restarts = dict.fromkeys(self.specs, 0)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def states(self) -> list[ServiceState]:
        return [
            ServiceState(name, p.pid if (p := self._processes.get(name)) else None, self._restarts[name])
            for name in self.specs
        ]

    def pid(self, name: str) -> int | None:
        process = self._processes.get(name)
        return None if process is None or process.returncode is not None else process.pid

    async def start(self) -> None:
        """Spawn every service and keep watching them in background tasks."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs.values():
            await self._spawn(spec)
        self._tasks = [
            asyncio.create_task(self._watch(s), name=f"watch-{s.name}") for s in self.specs.values()
        ]

    async def stop(self) -> None:
        """SIGTERM every service, SIGKILL what is still alive after the grace period."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = {n: p for n, p in self._processes.items() if p.returncode is None}
        for process in running.values():
            _signal_group(process.pid, signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in running.values()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.stop_grace_seconds)
            for name, process in running.items():
                if process.returncode is None:
                    logger.warning("service %s ignored SIGTERM; killing it", name)
                    _signal_group(process.pid, signal.SIGKILL)
            await asyncio.gather(*pending)
        for name, process in running.items():
            exit_code, signal_name = _exit_status(process.returncode)
            self._emit(
                ServiceEvent(
                    service=name,
                    reason=EventReason.STOPPED,
                    pid=process.pid,
                    restarts=self._restarts[name],
                    exit_code=exit_code,
                    signal=signal_name,
                )
            )

    async def _spawn(self, spec: ServiceSpec) -> asyncio.subprocess.Process:
        with (self.log_dir / f"{spec.name}.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **spec.env},
                start_new_session=True,
            )
        self._processes[spec.name] = process
        self._emit(
            ServiceEvent(
                service=spec.name,
                reason=EventReason.STARTED,
                pid=process.pid,
                restarts=self._restarts[spec.name],
                limit_bytes=spec.memory_limit_bytes,
            )
        )
        return process

    async def _watch(self, spec: ServiceSpec) -> None:
        streak = 0
        while not self._stopping.is_set():
            process = self._processes[spec.name]
            started_at = time.monotonic()
            rss = await self._wait_for_exit_or_limit(process, spec.memory_limit_bytes)
            returncode = await process.wait()
            streak = self.backoff.next_streak(streak, time.monotonic() - started_at)
            delay = self.backoff.delay_seconds(streak)
            self._restarts[spec.name] += 1
            exit_code, signal_name = _exit_status(returncode)
            over_limit = rss is not None
            self._emit(
                ServiceEvent(
                    service=spec.name,
                    reason=EventReason.MEMORY_LIMIT if over_limit else EventReason.EXITED,
                    pid=process.pid,
                    restarts=self._restarts[spec.name],
                    rss_bytes=rss,
                    limit_bytes=spec.memory_limit_bytes if over_limit else None,
                    exit_code=None if over_limit else exit_code,
                    signal=None if over_limit else signal_name,
                    restart_in_seconds=delay,
                )
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            await self._spawn(spec)

    async def _wait_for_exit_or_limit(self, process: asyncio.subprocess.Process, limit: int) -> int | None:
        """Return None when the process exits by itself, or its RSS after we killed it for the limit."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), self.poll_interval_seconds)
                return None
            rss = await asyncio.to_thread(tree_rss_bytes, process.pid)
            if rss > limit:
                _signal_group(process.pid, signal.SIGKILL)
                return rss

    def _emit(self, event: ServiceEvent) -> None:
        logger.info("%s", event.to_json())
        if self._on_event is not None:
            self._on_event(event)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The service leads its own session, so its pid is its process group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _exit_status(returncode: int | None) -> tuple[int | None, str | None]:
    """(exit code, None) for a normal exit, (None, "SIGKILL") for death by signal."""
    if returncode is not None and returncode < 0:
        return None, signal.Signals(-returncode).name
    return returncode, None
