"""Serves the XRPC app with uvicorn inside a ServiceRuntime.

uvicorn normally installs its own SIGTERM/SIGINT handlers; here the runtime owns signals and
shutdown order, so the server only stops when told to (`stop` set by the runtime's drain).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve_xrpc"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_xrpc(app: ASGIApp, *, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` on host:port until `stop` is set, then finish in-flight requests and return."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await serving
