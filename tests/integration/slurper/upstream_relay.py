"""A real upstream relay endpoint on loopback: paged ``com.atproto.sync.listHosts`` over uvicorn.

Serves the lexicon's output exactly (``hosts[{hostname, seq, accountCount, status}]`` plus a
``cursor`` while more pages remain), honours ``limit`` (1..1000, default 200) and answers
``InvalidRequest`` otherwise, as a relay would; ``max_page`` makes it answer shorter pages than
asked, as a relay may. Also two hosts: a tarpit (a TCP listener that accepts and never answers,
standing in for a host whose probe hangs) and a counting PDS (answers describeServer and holds
subscribeRepos WebSockets open, counting the probes it got).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from relay_slurper.request_crawl import HttpServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as WsRequest, Response as WsResponse

__all__ = ["CountingPds", "ListedHost", "UpstreamRelay", "counting_pds", "running_upstream_relay", "tarpit"]

_DEFAULT_LIMIT = 200
_MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class ListedHost:
    hostname: str
    status: str = "active"
    seq: int = 0
    account_count: int = 0


@dataclass(slots=True)
class UpstreamRelay:
    """The running endpoint: its base URL (``http://localhost:PORT``) and the requests it got."""

    url: str
    hosts: list[ListedHost]
    max_page: int = _MAX_LIMIT
    requests: list[dict[str, str]] = field(default_factory=list)


def _app(relay: UpstreamRelay) -> Starlette:
    async def list_hosts(request: Request) -> JSONResponse:
        params = dict(request.query_params)
        relay.requests.append(params)
        try:
            limit = int(params.get("limit", _DEFAULT_LIMIT))
            start = int(params.get("cursor", "0") or "0")
        except ValueError:
            return JSONResponse({"error": "InvalidRequest", "message": "bad limit or cursor"}, 400)
        if not 1 <= limit <= _MAX_LIMIT:
            return JSONResponse({"error": "InvalidRequest", "message": "limit out of range"}, 400)
        limit = min(limit, relay.max_page)
        page = relay.hosts[start : start + limit]
        body: dict[str, Any] = {
            "hosts": [
                {"hostname": h.hostname, "seq": h.seq, "accountCount": h.account_count, "status": h.status}
                for h in page
            ]
        }
        if start + limit < len(relay.hosts):
            body["cursor"] = str(start + limit)
        return JSONResponse(body)

    return Starlette(routes=[Route("/xrpc/com.atproto.sync.listHosts", list_hosts)])


@contextlib.asynccontextmanager
async def running_upstream_relay(
    hosts: list[ListedHost], *, max_page: int = _MAX_LIMIT
) -> AsyncIterator[UpstreamRelay]:
    """Serve ``hosts`` (oldest first), at most ``max_page`` a page, until the block ends."""
    relay = UpstreamRelay(url="", hosts=hosts, max_page=max_page)
    server = HttpServer(_app(relay), host="127.0.0.1", port=0)
    relay.url = f"http://localhost:{server.port}"
    stop = asyncio.Event()
    serving = asyncio.create_task(server.serve(stop))
    try:
        yield relay
    finally:
        stop.set()
        await serving


@contextlib.asynccontextmanager
async def tarpit() -> AsyncIterator[str]:
    """A host (``localhost:PORT``) that accepts connections and never sends a byte."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"localhost:{port}"
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


@dataclass(slots=True)
class CountingPds:
    hostname: str = ""
    probes: int = 0
    subscribers: int = 0


@contextlib.asynccontextmanager
async def counting_pds() -> AsyncIterator[CountingPds]:
    """A PDS-shaped host on loopback that counts describeServer probes and subscribers."""
    pds = CountingPds()

    def process_request(connection: ServerConnection, request: WsRequest) -> WsResponse | None:
        if request.path.startswith("/xrpc/com.atproto.server.describeServer"):
            pds.probes += 1
            body = b'{"did": "did:web:counting.test", "availableUserDomains": []}'
            headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return WsResponse(200, "OK", headers, body)
        return None

    async def handler(connection: ServerConnection) -> None:
        pds.subscribers += 1
        await connection.wait_closed()

    async with serve(handler, "127.0.0.1", 0, process_request=process_request, compression=None) as server:
        pds.hostname = f"localhost:{next(iter(server.sockets)).getsockname()[1]}"
        yield pds
