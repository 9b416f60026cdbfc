"""A lean NATS connection that only carries pull requests out and their replies back in.

Why not nats-py for this leg: every message a nats-py subscription delivers goes through header
parsing, a ``Msg`` object, an ``asyncio.Queue`` and an awaited callback — about 14 µs per
message measured, three quarters of a replayed event's cost. Replay reads are the firehose's
hottest path (every replaying consumer reads its own range), so they travel on this connection
instead: an :class:`asyncio.Protocol` that parses ``MSG``/``HMSG`` straight out of the receive
buffer and hands ``(reply, headers, payload)`` to a plain callback (~2 µs per message).

Everything else (creating and deleting consumers, stream info, deletes) stays on the replica's
nats-py client. The link speaks the plain NATS client protocol (INFO, CONNECT, PING/PONG, SUB,
UNSUB, PUB, MSG, HMSG) with user/password or token from the URL; TLS is not supported here.
When the socket goes, every subscriber's ``on_lost`` runs so its owner can resubscribe on a
fresh link (:meth:`InboxLink.ensure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import ParseResult

__all__ = ["InboxLink", "InboxSubscription", "MessageHandler"]

logger = logging.getLogger(__name__)

MessageHandler = Callable[[bytes, bytes, bytes], None]
"""Called with ``(reply, headers, payload)`` for each message; ``headers`` is ``b""`` for MSG."""

_CRLF: Final = b"\r\n"
_CONNECT_TIMEOUT_SECONDS: Final = 5.0
_MAX_CONTROL_LINE_BYTES: Final = 4096


@dataclass(eq=False, slots=True)
class InboxSubscription:
    """One private inbox on the link; ``subject`` is where replies are to be sent."""

    sid: int
    subject: str
    on_message: MessageHandler
    on_lost: Callable[[], None]


class _Wire(asyncio.Protocol):
    """The socket half: parses server operations and dispatches messages by sid."""

    def __init__(self, subs: dict[int, InboxSubscription], connected: asyncio.Future[None]) -> None:
        self._subs = subs
        self._connected = connected
        self._buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.credentials: dict[str, object] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self._connected.done():
            self._connected.set_exception(ConnectionError("NATS closed the inbox link"))
        subs = list(self._subs.values())
        self._subs.clear()
        for sub in subs:
            sub.on_lost()

    def data_received(self, data: bytes) -> None:
        # Parse from an immutable bytes object, so each slice is one copy; only an incomplete
        # operation at the end is kept for the next call.
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        pos = 0
        subs = self._subs
        size = len(data)
        find, startswith = data.find, data.startswith
        while True:
            eol = find(_CRLF, pos)
            if eol < 0:
                if size - pos > _MAX_CONTROL_LINE_BYTES:
                    self._fail("control line too long")
                    return
                break
            headered = startswith(b"HMSG ", pos)
            if headered or startswith(b"MSG ", pos):
                # HMSG <subject> <sid> [reply] <hdr len> <total len> | MSG <subject> <sid> [reply] <len>
                parts = data[pos:eol].split()
                body = eol + 2
                end = body + int(parts[-1])
                if end + 2 > size:
                    break
                hdr_end = body + int(parts[-2]) if headered else body
                sub = subs.get(int(parts[2]))
                if sub is not None:
                    has_reply = len(parts) == (6 if headered else 5)
                    sub.on_message(parts[3] if has_reply else b"", data[body:hdr_end], data[hdr_end:end])
                pos = end + 2
                continue
            line = data[pos:eol]
            pos = eol + 2
            if line == b"PING":
                self.write(b"PONG\r\n")
            elif line.startswith(b"INFO "):
                self._on_info(json.loads(line[5:]))
            elif line == b"PONG":
                if not self._connected.done():
                    self._connected.set_result(None)
            elif line.startswith(b"-ERR"):
                self._fail(line.decode(errors="replace"))
                return
            # +OK and anything unknown: nothing to do
        if pos < size:
            self._buf += data[pos:]

    def _on_info(self, info: dict[str, object]) -> None:
        if self._connected.done():
            return  # async INFO (cluster topology); nothing to change here
        connect: dict[str, object] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "lang": "python-relay-inbox",
            "version": "1",
            "name": "relay-firehose-inbox",
        }
        connect.update(self.credentials)
        self.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")

    def _fail(self, why: str) -> None:
        logger.warning("NATS inbox link failed", extra={"error": why})
        if not self._connected.done():
            self._connected.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(data)


class InboxLink:
    """Shared by a replica's pull readers; connects on first use and again after a loss.

    Args:
        server_url: Returns the URL of the NATS server to use now (the main client's current one),
            or None when there is none.
    """

    def __init__(self, server_url: Callable[[], ParseResult | None]) -> None:
        self._server_url = server_url
        self._wire: _Wire | None = None
        self._subs: dict[int, InboxSubscription] = {}
        self._next_sid = 1
        self._lock = asyncio.Lock()
        self._prefix = "_RINBOX." + os.urandom(8).hex()
        self._users = 0

    def retain(self) -> None:
        """Count one more reader; the socket stays open while any reader holds it."""
        self._users += 1

    async def release(self) -> None:
        """Count one reader less; the last one out closes the socket."""
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            await self.close()

    @property
    def connected(self) -> bool:
        return self._wire is not None and not self._wire.lost

    async def ensure(self) -> None:
        """Connect unless connected.

        Raises:
            ConnectionError: no NATS server to reach, or the handshake failed.
        """
        async with self._lock:
            if self.connected:
                return
            url = self._server_url()
            if url is None or url.hostname is None:
                raise ConnectionError("no NATS server to open the inbox link to")
            if url.scheme not in ("nats", ""):
                raise ConnectionError(f"inbox link speaks plain nats:// only, not {url.scheme}://")
            loop = asyncio.get_running_loop()
            connected: asyncio.Future[None] = loop.create_future()
            subs: dict[int, InboxSubscription] = {}
            _, wire = await loop.create_connection(
                lambda: _Wire(subs, connected), url.hostname, url.port or 4222
            )
            if url.username and url.password:
                wire.credentials = {"user": url.username, "pass": url.password}
            elif url.username:
                wire.credentials = {"auth_token": url.username}
            try:
                async with asyncio.timeout(_CONNECT_TIMEOUT_SECONDS):
                    await connected
            except BaseException:
                if wire.transport is not None:
                    wire.transport.abort()
                raise
            self._wire, self._subs = wire, subs

    def subscribe(self, on_message: MessageHandler, on_lost: Callable[[], None]) -> InboxSubscription:
        """A new private inbox (call :meth:`ensure` first)."""
        wire = self._wire
        if wire is None or wire.lost:
            raise ConnectionError("inbox link is not connected")
        sid = self._next_sid
        self._next_sid += 1
        sub = InboxSubscription(sid, f"{self._prefix}.{sid}", on_message, on_lost)
        self._subs[sid] = sub
        wire.write(f"SUB {sub.subject} {sid}\r\n".encode())
        return sub

    def unsubscribe(self, sub: InboxSubscription) -> None:
        if self._subs.pop(sub.sid, None) is not None and self._wire is not None:
            self._wire.write(f"UNSUB {sub.sid}\r\n".encode())

    def publish(self, subject: str, payload: bytes, *, reply: str) -> None:
        """Send a message (a pull request) whose replies go to ``reply``.

        Raises:
            ConnectionError: the link is down (the caller's ``on_lost`` has run or will).
        """
        wire = self._wire
        if wire is None or wire.lost:
            raise ConnectionError("inbox link is not connected")
        wire.write(f"PUB {subject} {reply} {len(payload)}\r\n".encode() + payload + _CRLF)

    async def close(self) -> None:
        """Close the socket (subscribers' ``on_lost`` run)."""
        wire, self._wire = self._wire, None
        if wire is not None and wire.transport is not None:
            wire.transport.close()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)
