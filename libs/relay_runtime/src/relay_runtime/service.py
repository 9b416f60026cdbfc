"""ServiceRuntime: how every relay service lives, from startup log line to graceful exit.

Startup: tracing → ops HTTP (/healthz answers from here on) → NATS + streams (when used) →
gRPC (health NOT_SERVING) → readiness watcher flips health to SERVING once every check passes.

Shutdown (SIGTERM/SIGINT, ``request_stop()``, or a served coroutine failing), in STYLE §13
order: health NOT_SERVING and /readyz 503 → ``stopping`` is set so intake stops → served
coroutines drain (cancelled after the grace period) → shutdown hooks flush cursors/logs →
``server.stop(grace)`` → channels, NATS and the ops server close → spans flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Final, Self

import grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from relay_runtime import jetstream, metrics, tracing
from relay_runtime.config import RuntimeConfig, config_for_log
from relay_runtime.gc_tuning import frozen_startup_objects, keep_long_lived_frozen, observe_collections
from relay_runtime.grpc_server import GrpcServer, open_channel
from relay_runtime.ops_http import OpsServer
from relay_runtime.readiness import CheckResult, Readiness
from relay_runtime.streams import StreamDef

__all__ = ["ServiceRuntime", "ShutdownHook"]

logger = logging.getLogger(__name__)

ShutdownHook = Callable[[], Awaitable[None]]
_READINESS_INTERVAL_SECONDS: Final = 1.0
_VERSION: Final = "0.1.0"


class ServiceRuntime:
    """Async context manager owning a service's servers, connections and lifecycle.

    Args:
        config: The shared runtime settings.
        service_config: The whole service config, logged once (secrets redacted) at startup.
        uses_nats: Connect to NATS on entry and add a ``nats`` readiness check.
        streams: JetStream streams this service publishes to; ensured on entry.
        handle_signals: Install SIGTERM/SIGINT handlers (off in tests that run several runtimes).
        grpc_interceptors: Extra server interceptors (e.g. admin's bearer-token check).
    """

    def __init__(
        self,
        config: RuntimeConfig,
        *,
        service_config: object | None = None,
        uses_nats: bool = False,
        streams: Sequence[StreamDef] = (),
        handle_signals: bool = True,
        grpc_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.config = config
        self.readiness = Readiness()
        self.grpc = GrpcServer(
            service=config.service,
            host=config.bind_host,
            port=config.grpc_port,
            interceptors=grpc_interceptors,
        )
        self.ops = OpsServer(
            self.readiness, service=config.service, host=config.bind_host, port=config.ops_port
        )
        self.started = asyncio.Event()
        """Set once ``serve()`` has the gRPC server listening (tests and supervisors wait on it)."""
        self.stopping = asyncio.Event()
        """Set when shutdown begins: long-running loops stop taking new work and drain."""
        self._service_config = service_config
        self._uses_nats = uses_nats
        self._streams = tuple(streams)
        self._handle_signals = handle_signals
        self._nats: NatsClient | None = None
        self._jetstream: JetStreamContext | None = None
        self._channels: list[grpc.aio.Channel] = []
        self._hooks: list[ShutdownHook] = []
        self._stop_requested = asyncio.Event()

    @property
    def nats(self) -> NatsClient:
        if self._nats is None:
            raise RuntimeError(f"{self.config.service} runtime was created with uses_nats=False")
        return self._nats

    @property
    def jetstream(self) -> JetStreamContext:
        if self._jetstream is None:
            raise RuntimeError(f"{self.config.service} runtime was created with uses_nats=False")
        return self._jetstream

    def channel(self, target: str) -> grpc.aio.Channel:
        """A trace-propagating client channel, closed when the runtime exits."""
        channel = open_channel(target)
        self._channels.append(channel)
        return channel

    def on_shutdown(self, hook: ShutdownHook) -> None:
        """Run ``hook`` after served coroutines drained and before gRPC stops (flush cursors)."""
        self._hooks.append(hook)

    def request_stop(self) -> None:
        """Begin graceful shutdown (what SIGTERM does)."""
        self._stop_requested.set()

    async def __aenter__(self) -> Self:
        tracing.configure_tracing(self.config.service, otlp_endpoint=self.config.otel_endpoint)
        metrics.SERVICE_INFO.labels(self.config.service, _VERSION).set(1)
        logger.info("starting", extra={"config": config_for_log(self._service_config or self.config)})
        # Ready only once serve() runs: the ops port opens first, before the service has wired
        # anything or registered its own checks, and an empty check list would read as ready.
        started = self.started
        self.readiness.add("started", lambda: CheckResult(started.is_set(), "starting"))
        await self.ops.start()
        if self._uses_nats:
            self._nats = await jetstream.connect(self.config.nats_url, name=f"relay-{self.config.service}")
            self._jetstream = self._nats.jetstream()
            await jetstream.ensure_streams(self._jetstream, self._streams, service=self.config.service)
            nc = self._nats
            self.readiness.add("nats", lambda: CheckResult(nc.is_connected, "nats: not connected"))
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        for channel in self._channels:
            await channel.close()
        if self._nats is not None and not self._nats.is_closed:
            with contextlib.suppress(Exception):  # a dead connection has nothing left to drain
                await self._nats.drain()
        await self.ops.stop()
        tracing.shutdown_tracing()
        logger.info("stopped")

    async def serve(self, *coroutines: Coroutine[Any, Any, None]) -> None:
        """Start gRPC, run ``coroutines`` until a stop is requested, then shut down in order.

        A coroutine that raises triggers shutdown and its exception is re-raised at the end.
        A coroutine that returns early is simply done; the service keeps serving.
        """
        with frozen_startup_objects(), observe_collections(self.config.service):
            maintenance = asyncio.create_task(keep_long_lived_frozen(), name="gc maintenance")
            try:
                await self._serve(coroutines)
            finally:
                maintenance.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await maintenance

    async def _serve(self, coroutines: tuple[Coroutine[Any, Any, None], ...]) -> None:
        await self.grpc.start()
        self.started.set()
        tasks = [asyncio.create_task(c) for c in coroutines]
        watcher = asyncio.create_task(self._watch_readiness())
        failure: BaseException | None = None
        stop_wait = asyncio.create_task(self._stop_requested.wait())
        pending: set[asyncio.Task[Any]] = {stop_wait, *tasks}
        while not stop_wait.done():
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if t is not stop_wait and not t.cancelled() and t.exception()]
            if failed:
                failure = failed[0].exception()
                logger.error("served task failed; shutting down", exc_info=failure)
                break
        stop_wait.cancel()
        logger.info("shutting down")
        self.readiness.mark_shutting_down()
        watcher.cancel()
        await self.grpc.enter_graceful_shutdown()
        self.stopping.set()
        await self._drain(tasks)
        for hook in self._hooks:
            try:
                await hook()
            except Exception:
                logger.exception("shutdown hook failed")
        await self.grpc.stop(self.config.shutdown_grace_seconds)
        if failure is not None:
            raise failure

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        live = [t for t in tasks if not t.done()]
        if not live:
            return
        _, late = await asyncio.wait(live, timeout=self.config.shutdown_grace_seconds)
        for task in late:
            task.cancel()
        if late:
            logger.warning("cancelled tasks that did not drain in time", extra={"count": len(late)})
            await asyncio.gather(*late, return_exceptions=True)

    async def _watch_readiness(self) -> None:
        while True:
            report = await self.readiness.evaluate()
            metrics.READY.labels(self.config.service).set(1 if report.ready else 0)
            await self.grpc.set_serving(report.ready)
            await asyncio.sleep(_READINESS_INTERVAL_SECONDS)
