"""``com.atproto.sync.requestCrawl``: the public door through which a PDS asks to be followed.

Lexicon-exact (``com/atproto/sync/requestCrawl.json``): a procedure, JSON input with a required
string ``hostname``, no output, one declared error ``HostBanned``. Other refusals use the
generic XRPC errors: ``InvalidRequest`` (400) for a bad body or a host that failed a check,
``Forbidden`` (403) while public requestCrawl is off, ``RateLimitExceeded`` (429) when the
new-hosts-per-day quota is spent. Served by uvicorn on the slurper's HTTP port; the runtime,
not uvicorn, owns signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Generator
from typing import Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay_slurper.admission import AdmissionSource, HostAdmission
from relay_slurper.errors import HostBanned, HostRefused

__all__ = ["HttpServer", "create_app"]

_MAX_BODY_BYTES: Final = 4096
_STATUS_BY_REASON: Final = {
    "crawl_disabled": (403, "Forbidden"),
    "new_host_quota": (429, "RateLimitExceeded"),
}


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def create_app(admission: HostAdmission) -> Starlette:
    """The slurper's public XRPC app (one procedure)."""

    async def request_crawl(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return _error(400, "InvalidRequest", "input must be application/json")
        body = await request.body()
        if len(body) > _MAX_BODY_BYTES:
            return _error(400, "InvalidRequest", "request body too large")
        try:
            document = json.loads(body)
        except ValueError:
            return _error(400, "InvalidRequest", "input is not valid JSON")
        hostname = document.get("hostname") if isinstance(document, dict) else None
        if not isinstance(hostname, str):
            return _error(400, "InvalidRequest", 'input must have a string "hostname"')
        try:
            await admission.admit(hostname, AdmissionSource.REQUEST_CRAWL)
        except HostBanned as exc:
            return _error(400, "HostBanned", str(exc))
        except HostRefused as exc:
            status, error = _STATUS_BY_REASON.get(exc.reason, (400, "InvalidRequest"))
            return _error(status, error, str(exc))
        return Response(status_code=200)

    return Starlette(routes=[Route("/xrpc/com.atproto.sync.requestCrawl", request_crawl, methods=["POST"])])


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """uvicorn on a socket bound up front, so port 0 reports the port it got."""

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        self._socket = socket.create_server((host, port), reuse_port=False)
        self._socket.setblocking(False)
        config = uvicorn.Config(app, lifespan="off", ws="none", log_config=None, access_log=False)
        self._server = _Uvicorn(config)

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then finish in-flight requests and return."""
        serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        self._server.should_exit = True
        stopped.cancel()
        try:
            await serving
        finally:
            self._socket.close()
