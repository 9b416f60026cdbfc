"""Puts a `SimHost` on its own 127.0.0.1 port: the subscribeRepos WebSocket plus XRPC over HTTP.

One `websockets` asyncio server per host. Plain HTTP GETs (describeServer, listRepos,
describeRepo) are answered from `process_request` before any WebSocket handshake, so one listener
serves both, like a PDS. A new subscriber's replay and its registration for live frames happen
without an `await` in between, so no frame can fall between replay and live.
"""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from relay_core.firehose.frames import encode_error_frame, encode_frame
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tools.netsim.backlog import CursorOutcome
from tools.netsim.host import SimHost

__all__ = ["SUBSCRIBE_PATH", "HostListener"]

SUBSCRIBE_PATH: Final = "/xrpc/com.atproto.sync.subscribeRepos"
_MAX_CLIENT_MESSAGE_BYTES: Final = 64 * 1024


def _json_response(status: int, body: object) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = Headers(
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return Response(status, "OK" if status == 200 else "Error", headers, data)


class HostListener:
    """The network face of one `SimHost`."""

    def __init__(self, host: SimHost) -> None:
        self.host = host
        self.subscribers: set[ServerConnection] = set()
        self._server: Server | None = None
        host.sinks.append(self._broadcast)

    def _broadcast(self, frame: bytes) -> None:
        if self.subscribers:
            broadcast(self.subscribers, frame)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        params = dict(parse_qsl(url.query))
        if url.path == SUBSCRIBE_PATH:
            return None
        if url.path == "/xrpc/com.atproto.server.describeServer":
            return _json_response(*self.host.describe_server())
        if url.path == "/xrpc/com.atproto.sync.listRepos":
            return _json_response(*self.host.list_repos(params))
        if url.path == "/xrpc/com.atproto.repo.describeRepo":
            return _json_response(*self.host.describe_repo(params))
        if url.path == "/xrpc/_health":
            return _json_response(200, {"version": "netsim"})
        return _json_response(404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    async def _subscribe(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        params = dict(parse_qsl(urlsplit(connection.request.path).query))
        cursor: int | None = None
        if "cursor" in params:
            try:
                cursor = int(params["cursor"])
            except ValueError:
                await connection.send(encode_error_frame("InvalidRequest", "cursor must be an integer"))
                await connection.close()
                return
        replay = self.host.backlog.replay(cursor)
        if replay.outcome is CursorOutcome.FUTURE:
            await connection.send(encode_error_frame("FutureCursor", "Cursor in the future."))
            await connection.close()
            return
        if replay.outcome is CursorOutcome.OUTDATED:
            info = encode_frame(
                "#info",
                {
                    "name": "OutdatedCursor",
                    "message": "Requested cursor exceeded limit. Possibly missing events",
                },
            )
            broadcast([connection], info)
        for frame in replay.frames:
            broadcast([connection], frame)
        self.subscribers.add(connection)
        try:
            await connection.wait_closed()
        finally:
            self.subscribers.discard(connection)

    async def start(self) -> None:
        """Listen on `127.0.0.1:<host.port>` (port 0 picks one and updates the host)."""
        self._server = await serve(
            self._subscribe,
            "127.0.0.1",
            self.host.port,
            process_request=self._process_request,
            compression=None,
            max_size=_MAX_CLIENT_MESSAGE_BYTES,
            ping_interval=None,
        )
        if self.host.port == 0:
            self.host.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
