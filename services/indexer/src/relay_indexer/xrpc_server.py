"""Serves the XRPC app with uvicorn inside a ServiceRuntime.

uvicorn normally installs its own SIGTERM/SIGINT handlers; here the runtime owns signals and
shutdown order, so the server only stops when told to (`stop` set by the runtime's drain).
`listening` is set once the port is bound, so readiness can wait for the public API too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve_xrpc"]


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, listening: asyncio.Event | None) -> None:
        super().__init__(config)
        self._listening = listening

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._listening is not None and self.started:
            self._listening.set()


async def serve_xrpc(
    app: ASGIApp, *, host: str, port: int, stop: asyncio.Event, listening: asyncio.Event | None = None
) -> None:
    """Serve `app` on host:port until `stop` is set, then finish in-flight requests and return."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False),
        listening,
    )
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await serving
