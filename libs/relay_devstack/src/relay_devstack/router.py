"""The dev stack's single public origin: route by path at the TCP level, then splice bytes.

The router reads one request head, picks a backend with `relay_devstack.routes.route_for`, replays
the (lightly rewritten) head to it and then copies bytes both ways until either side is done. It
never parses bodies or responses, so WebSocket upgrades (subscribeRepos) and streamed bodies pass
through untouched.

Keep-alive rule: one request per client connection. Plain requests are forwarded with
``Connection: close`` so the backend ends the connection after answering; the client reconnects
for its next request, which is then routed on its own path. Upgraded connections stay open for as
long as both ends keep them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping

from relay_devstack.routes import Backend, InvalidRequestHead, parse_request_head, route_for

__all__ = ["Router"]

logger = logging.getLogger(__name__)

_MAX_HEAD_BYTES = 64 * 1024
_HEAD_TIMEOUT_SECONDS = 30.0
_CONNECT_TIMEOUT_SECONDS = 5.0
_CHUNK_BYTES = 64 * 1024


class Router:
    """Listens on one address and forwards each connection to the backend its first request names."""

    def __init__(
        self, backends: Mapping[Backend, tuple[str, int]], *, host: str = "127.0.0.1", port: int = 2470
    ):
        self.backends = dict(backends)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind (port 0 picks a free port; `port` is updated to the real one)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=_MAX_HEAD_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_SECONDS)
            head = parse_request_head(raw)
        except asyncio.LimitOverrunError:
            await _reply(writer, 431, "RequestHeaderFieldsTooLarge", "request head over 64 KiB")
            return
        except InvalidRequestHead as exc:
            await _reply(writer, 400, "InvalidRequest", str(exc))
            return
        backend = route_for(head.path)
        if backend is None or backend not in self.backends:
            await _reply(writer, 404, "NotFound", f"no route for {head.path}")
            return
        host, port = self.backends[backend]
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), _CONNECT_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError):
            await _reply(writer, 502, "BadGateway", f"{backend} is not reachable")
            return
        try:
            peer = writer.get_extra_info("peername")
            upstream_writer.write(head.encode_for_backend(peer[0] if peer else "unknown"))
            await _splice(reader, writer, upstream_reader, upstream_writer)
        finally:
            upstream_writer.close()
            with contextlib.suppress(ConnectionError):
                await upstream_writer.wait_closed()


async def _splice(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways. The backend finishing ends the exchange; the client finishing its request
    only half-closes toward the backend, which still owes a response."""
    upload = asyncio.create_task(_pump(client_reader, upstream_writer))
    try:
        await _pump(upstream_reader, client_writer)
    finally:
        upload.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await upload


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(_CHUNK_BYTES):
        sink.write(chunk)
        await sink.drain()
    if sink.can_write_eof():
        with contextlib.suppress(OSError):
            sink.write_eof()


async def _reply(writer: asyncio.StreamWriter, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    reason = {
        400: "Bad Request",
        404: "Not Found",
        431: "Request Header Fields Too Large",
        502: "Bad Gateway",
    }
    writer.write(
        f"HTTP/1.1 {status} {reason[status]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
