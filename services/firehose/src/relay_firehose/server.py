"""The firehose's public listener and lifecycle: hub start, accept, graceful close.

Shutdown order (STYLE §13): stop accepting (listener closed, new upgrades refused), every
consumer gets a close frame (1001), the hub waits up to the grace period for them to go and then
aborts the rest, the live tail stops.
"""

from __future__ import annotations

import asyncio
import logging

from relay_runtime.readiness import CheckResult

from relay_firehose.connection import Connection
from relay_firehose.hub import Hub

__all__ = ["FirehoseServer"]

logger = logging.getLogger(__name__)


class FirehoseServer:
    """Serves ``subscribeRepos`` from ``hub`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, hub: Hub, *, host: str, port: int, shutdown_grace_seconds: float = 10.0) -> None:
        self.hub = hub
        self._host = host
        self._port = port
        self._grace = shutdown_grace_seconds
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("firehose server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}/xrpc/com.atproto.sync.subscribeRepos"

    async def start(self) -> None:
        """Open the log (head, takedowns) and start listening."""
        await self.hub.start()
        loop = asyncio.get_running_loop()
        high_water = self.hub.settings.catchup_buffer_bytes

        def factory() -> Connection:
            return Connection(self.hub, high_water_bytes=high_water, conn_id=self.hub.next_connection_id())

        self._server = await loop.create_server(factory, self._host, self._port, backlog=1024)
        logger.info("subscribeRepos listening", extra={"host": self._host, "port": self.port})

    def readiness(self) -> CheckResult:
        """Ready once listening with the live tail running."""
        ok = self._server is not None and self._server.is_serving() and self.hub.started.is_set()
        return CheckResult(ok, "firehose: not serving subscribeRepos yet")

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then close gracefully."""
        if self._server is None:
            await self.start()
        try:
            await self.hub.run(stop)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.hub.close_all(self._grace)
        if self._server is not None:
            await self._server.wait_closed()
