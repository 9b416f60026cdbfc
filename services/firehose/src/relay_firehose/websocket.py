"""The slice of RFC 6455 the firehose needs, sans-I/O: handshake, server frames, client frames.

Why not the ``websockets`` library here: it costs ~9 µs per frame per subscriber (PERF-NOTES),
because it frames each message per connection. Server-to-client frames are unmasked, so one
encoded byte string serves every consumer; this module builds it once. Clients of subscribeRepos
send nothing but control frames (ping, pong, close), so the reader is small and strict: masked
frames only, no extensions, control payloads ≤ 125 bytes, and data messages beyond a small limit
end the connection (close code 1009).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

__all__ = [
    "MAX_REQUEST_HEAD_BYTES",
    "CloseCode",
    "FrameReader",
    "Handshake",
    "HandshakeError",
    "Opcode",
    "ProtocolError",
    "accept_key",
    "encode_binary",
    "encode_close",
    "encode_control",
    "parse_handshake",
]

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_REQUEST_HEAD_BYTES: Final = 8192


class Opcode(IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009


class HandshakeError(Exception):
    """The HTTP request cannot be upgraded; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


class ProtocolError(Exception):
    """The client broke RFC 6455 (or our limits); close with ``code``."""

    def __init__(self, code: CloseCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Handshake:
    """A parsed HTTP request head. ``headers`` keys are lower-case."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def websocket_key(self) -> str:
        """The validated ``Sec-WebSocket-Key``.

        Raises:
            HandshakeError: not a WebSocket upgrade request (400/426).
        """
        h = self.headers
        if "websocket" not in h.get("upgrade", "").lower() or "upgrade" not in _tokens(
            h.get("connection", "")
        ):
            raise HandshakeError(426, "InvalidRequest", "subscribeRepos needs a WebSocket upgrade")
        if h.get("sec-websocket-version", "").strip() != "13":
            raise HandshakeError(426, "InvalidRequest", "only WebSocket version 13 is supported")
        key = h.get("sec-websocket-key", "").strip()
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError(key)
        except (ValueError, binascii.Error):
            raise HandshakeError(400, "InvalidRequest", "bad Sec-WebSocket-Key") from None
        return key


def _tokens(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",")}


def parse_handshake(head: bytes) -> Handshake:
    """Parse an HTTP/1.1 request head (up to and excluding the blank line).

    Raises:
        HandshakeError: a malformed request line or header.
    """
    try:
        text = head.decode("latin-1")
        request_line, *lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise HandshakeError(400, "InvalidRequest", "malformed HTTP request line") from None
    if not version.startswith("HTTP/1."):
        raise HandshakeError(400, "InvalidRequest", "HTTP/1.x only")
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HandshakeError(400, "InvalidRequest", "malformed HTTP header")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return Handshake(method=method, target=target, headers=headers)


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def encode_binary(payload: bytes) -> bytes:
    """One unmasked, final binary frame: the same bytes go to every consumer."""
    n = len(payload)
    if n < 126:
        return bytes((0x82, n)) + payload
    if n < 0x10000:
        return b"\x82\x7e" + n.to_bytes(2, "big") + payload
    return b"\x82\x7f" + n.to_bytes(8, "big") + payload


def encode_control(opcode: Opcode, payload: bytes = b"") -> bytes:
    """An unmasked control frame (ping, pong, close); payload at most 125 bytes."""
    if len(payload) > 125:
        raise ValueError("control frame payload over 125 bytes")
    return bytes((0x80 | opcode, len(payload))) + payload


def encode_close(code: CloseCode | int, reason: str = "") -> bytes:
    """A close frame with ``code`` and a reason truncated to fit a control frame."""
    return encode_control(Opcode.CLOSE, int(code).to_bytes(2, "big") + reason.encode()[:123])


def _unmask(mask: bytes, payload: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class FrameReader:
    """Feed bytes from a client, take complete frames: ``feed(data)`` → ``[(opcode, payload)]``.

    Data messages (text/binary/continuation) are accepted up to ``max_message_bytes`` and
    returned like control frames; the caller ignores them.
    """

    def __init__(self, *, max_message_bytes: int = 4096) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes

    def feed(self, data: bytes) -> list[tuple[Opcode, bytes]]:
        """Append ``data`` and return every complete frame in it.

        Raises:
            ProtocolError: an unmasked frame, reserved bits or opcodes, a fragmented or oversized
                control frame, or a message over the limit.
        """
        self._buffer += data
        frames: list[tuple[Opcode, bytes]] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> tuple[Opcode, bytes] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70:
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, "reserved bits set (no extensions)")
        try:
            opcode = Opcode(b0 & 0x0F)
        except ValueError:
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"reserved opcode {b0 & 0x0F}") from None
        if not b1 & 0x80:
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, "client frames must be masked")
        length = b1 & 0x7F
        offset = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length, offset = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length, offset = int.from_bytes(buf[2:10], "big"), 10
        if opcode >= Opcode.CLOSE and (length > 125 or not b0 & 0x80):
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, "control frames are final and ≤ 125 bytes")
        if length > self._max:
            raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, "subscribeRepos clients send no messages")
        end = offset + 4 + length
        if len(buf) < end:
            return None
        mask = bytes(buf[offset : offset + 4])
        payload = _unmask(mask, bytes(buf[offset + 4 : end]))
        del buf[:end]
        return opcode, payload
