"""One subscribeRepos connection: an asyncio Protocol speaking HTTP/1.1 then WebSocket.

Why a Protocol and not a framework: fan-out writes one pre-framed byte string per batch straight
to ``transport.write``, and the transport's write-buffer size is the per-consumer queue (no
per-connection task, no per-message framing). Reads are tiny: the request head (≤ 8 KiB), then
only control frames. Decisions (routing, cursor, what to send) live elsewhere; this module moves
bytes and reports events to its :class:`ConnectionHost`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from http import HTTPStatus
from typing import Final, Protocol

from relay_firehose import metrics
from relay_firehose.cursor import BadCursor, parse_cursor
from relay_firehose.websocket import (
    MAX_REQUEST_HEAD_BYTES,
    CloseCode,
    FrameReader,
    HandshakeError,
    Opcode,
    ProtocolError,
    accept_key,
    encode_close,
    encode_control,
    parse_handshake,
)

__all__ = ["SUBSCRIBE_REPOS_PATH", "SERVER_HEADER", "Connection", "ConnectionHost"]

logger = logging.getLogger(__name__)

SUBSCRIBE_REPOS_PATH: Final = "/xrpc/com.atproto.sync.subscribeRepos"
SERVER_HEADER: Final = "atproto-relay"
"""Other relays' loop guards look for this ``Server`` header."""
_CLOSE_TIMEOUT_SECONDS: Final = 5.0


class ConnectionHost(Protocol):
    """What a connection reports to (the subscriber hub)."""

    def on_open(self, conn: Connection, cursor: int | None) -> None: ...

    def on_lost(self, conn: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """A consumer socket. ``write`` never blocks; ``buffer_size`` is its queue length in bytes.

    Args:
        host: Receives ``on_open`` after a successful upgrade and ``on_lost`` at the end.
        high_water_bytes: Write-buffer size above which ``writable()`` waits (catch-up pacing).
    """

    def __init__(self, host: ConnectionHost, *, high_water_bytes: int, conn_id: int) -> None:
        self._host = host
        self._high_water = high_water_bytes
        self.id = conn_id
        self.transport: asyncio.Transport | None = None
        self.remote_addr = ""
        self.user_agent = ""
        self.connected_at = time.time()
        self.upgraded = False
        self.closed = False
        self.close_sent = False
        self.last_heard = time.monotonic()
        self.ping_outstanding = False
        self.bytes_written = 0
        self.delivered_at_ping = 0
        self.missed_pings = 0
        self._head = bytearray()
        self._reader = FrameReader()
        self._writable = asyncio.Event()
        self._writable.set()
        self._abort_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=self._high_water, low=self._high_water // 4)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.remote_addr = f"{peer[0]}:{peer[1]}"

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        if not self.upgraded:
            self._receive_head(data)
            return
        try:
            frames = self._reader.feed(data)
        except ProtocolError as exc:
            metrics.DISCONNECTS_TOTAL.labels("protocol_error").inc()
            self.close(exc.code, str(exc))
            return
        for opcode, payload in frames:
            if opcode == Opcode.PING:
                self.write(encode_control(Opcode.PONG, payload))
            elif opcode == Opcode.PONG:
                self.ping_outstanding = False
            elif opcode == Opcode.CLOSE:
                self._on_close_frame(payload)
                return

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        if self._abort_timer is not None:
            self._abort_timer.cancel()
        if self.upgraded:
            self._host.on_lost(self)

    # what the hub uses

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            self.bytes_written += len(data)

    def delivered_bytes(self) -> int:
        """Bytes that left our buffer for the kernel: grows only while the peer reads."""
        return self.bytes_written - self.buffer_size()

    def buffer_size(self) -> int:
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    async def writable(self) -> None:
        """Return once the write buffer is below the low-water mark (or the socket is gone)."""
        await self._writable.wait()

    def close(self, code: CloseCode | int, reason: str = "", *, error_frame: bytes = b"") -> None:
        """Send ``error_frame`` (if any) and a close frame, then close; abort if the peer stalls."""
        if self.closed or self.transport is None:
            return
        if not self.close_sent:
            self.close_sent = True
            self.transport.write(error_frame + encode_close(code, reason))
        self.transport.close()
        loop = asyncio.get_running_loop()
        self._abort_timer = loop.call_later(_CLOSE_TIMEOUT_SECONDS, self.abort)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    # HTTP

    def _receive_head(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_REQUEST_HEAD_BYTES:
                self._respond_error(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "InvalidRequest", "request head too large"
                )
            return
        head = bytes(self._head[:end])
        del self._head[:]
        try:
            request = parse_handshake(head)
            if request.path != SUBSCRIBE_REPOS_PATH:
                raise HandshakeError(404, "MethodNotImplemented", "unknown XRPC method")
            if request.method != "GET":
                raise HandshakeError(405, "InvalidRequest", "subscribeRepos is GET only")
            try:
                cursor = parse_cursor(request.query)
            except BadCursor as exc:
                raise HandshakeError(400, "InvalidRequest", str(exc)) from None
            key = request.websocket_key()
        except HandshakeError as exc:
            metrics.HANDSHAKES_TOTAL.labels(f"http_{exc.status}").inc()
            self._respond_error(HTTPStatus(exc.status), exc.error, exc.message)
            return
        self.user_agent = request.headers.get("user-agent", "")[:256]
        assert self.transport is not None
        self.transport.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\nServer: {SERVER_HEADER}\r\n\r\n"
            ).encode()
        )
        self.upgraded = True
        metrics.HANDSHAKES_TOTAL.labels("upgraded").inc()
        self._host.on_open(self, cursor)

    def _respond_error(self, status: HTTPStatus, error: str, message: str) -> None:
        body = json.dumps({"error": error, "message": message}).encode()
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nServer: {SERVER_HEADER}\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(head.encode() + body)
        self.transport.close()

    def _on_close_frame(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else CloseCode.NORMAL
        if not self.close_sent:
            metrics.DISCONNECTS_TOTAL.labels("client_closed").inc()
        self.close(code if 1000 <= code < 5000 else CloseCode.PROTOCOL_ERROR)
