"""One upstream host: a single WebSocket to its subscribeRepos, for as long as it is followed.

Lifecycle of a :class:`Subscription` (one asyncio task, no thread)::

    resolve (SSRF check, address pinned) → handshake (relay-loop guard) → read frames
        → each event frame: seq check → rate windows (wait, not drop) → pipelined publish
    connection ends → wait for in-flight acks → resume from the acked cursor after backoff

The cursor sent on reconnect is the contiguous acked prefix (:class:`CursorTracker`), so a frame
whose publish failed, or that was in flight when the connection died, is replayed by the
upstream and de-duplicated by JetStream. An ``#error FutureCursor`` makes the host idle; a
``Server`` header naming a relay bans it; anything else reconnects with backoff, forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from nats.errors import MaxPayloadError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import CloseCode

from relay_slurper import metrics
from relay_slurper.ack_inbox import AckTimeout, Answer, OnAnswer
from relay_slurper.address_policy import resolve_public
from relay_slurper.backoff import BackoffPolicy, reconnect_delay
from relay_slurper.cursor_tracker import CursorTracker
from relay_slurper.errors import HostBanned, HostRefused, UpstreamError
from relay_slurper.frame_peek import FrameKind, SeqGuard, peek_frame
from relay_slurper.frame_publisher import FramePublisher
from relay_slurper.host_address import HostAddress
from relay_slurper.host_store import HostStatus
from relay_slurper.rate_limits import RateLimiter
from relay_slurper.relay_guard import check_not_relay

__all__ = ["ConnectionState", "StatusSink", "Subscription", "SubscriptionSettings"]

logger = logging.getLogger(__name__)

StatusSink = Callable[[str, HostStatus, str], Awaitable[None]]
"""``(hostname, status, reason)``: persist a host's status change (the indexer)."""

_FUTURE_CURSOR: Final = "FutureCursor"
_HEALTHY_SESSION_SECONDS: Final = 30.0
_THROTTLED_AFTER_SECONDS: Final = 1.0
_ACK_SETTLE_MARGIN_SECONDS: Final = 1.0
_MAX_QUEUE_FRAMES: Final = 4
_WRITE_LIMIT_BYTES: Final = 4096
_USER_AGENT: Final = "relay-slurper (atproto relay)"


class _End(StrEnum):
    RECONNECT = "reconnect"
    STOP = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionSettings:
    """What every subscription of a process shares (one SSLContext for thousands of hosts)."""

    ssl_context: ssl.SSLContext
    dev_mode: bool
    max_frame_bytes: int
    ping_interval_seconds: float
    open_timeout_seconds: float
    backoff: BackoffPolicy
    ack_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """A snapshot for ListConnections."""

    hostname: str
    connected: bool
    events_per_second: float
    cursor: int
    connected_since_us: int
    failed_attempts: int
    last_error: str


class Subscription:
    """Follows one host until :meth:`stop` (or FutureCursor / a relay-loop ban ends it)."""

    def __init__(
        self,
        address: HostAddress,
        *,
        cursor: int | None,
        limiter: RateLimiter,
        publisher: FramePublisher,
        settings: SubscriptionSettings,
        on_status: StatusSink,
        status: HostStatus = HostStatus.ACTIVE,
        rng: random.Random | None = None,
        on_first_cursor: Callable[[], None] | None = None,
    ) -> None:
        self.address = address
        self.limiter = limiter
        self._publisher = publisher
        self._settings = settings
        self._on_status = on_status
        self._status = status
        self._rng = rng or random.Random()
        self._tracker = CursorTracker(cursor)
        # A host followed live has no durable cursor until its first checkpoint; until then a
        # crash would resume live and skip frames, so the first acked cursor is flushed at once.
        self._on_first_cursor = on_first_cursor if cursor is None else None
        self._last_seq = cursor or 0
        self._failures = 0
        self._last_error = ""
        self._ws: ClientConnection | None = None
        self._connected_since_us = 0
        self._stopping = asyncio.Event()
        self._outstanding = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._minute_start = 0.0
        self._minute_count = 0
        self._rate = 0.0
        self.ended: str | None = None
        """Why the subscription ended for good (``stopped``, ``future_cursor``, ``banned``)."""

    @property
    def hostname(self) -> str:
        return self.address.hostname

    @property
    def acked_cursor(self) -> int | None:
        """Last seq such that it and everything before it are in JetStream (for checkpoints)."""
        return self._tracker.cursor

    def state(self) -> ConnectionState:
        return ConnectionState(
            hostname=self.hostname,
            connected=self._ws is not None,
            events_per_second=self._rate,
            cursor=self._last_seq,
            connected_since_us=self._connected_since_us,
            failed_attempts=self._failures,
            last_error=self._last_error,
        )

    def stop(self) -> None:
        """Ask the task to end: the socket is closed and :meth:`run` returns once acks settled."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close())

    async def run(self) -> None:
        """Connect, read, reconnect with backoff, until stopped or ended by the upstream."""
        try:
            while not self._stopping.is_set():
                if self._failures:
                    delay = reconnect_delay(self._failures, self._settings.backoff, self._rng.random())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    if self._stopping.is_set():
                        break
                end = await self._session()
                await self._settle()
                if end is _End.STOP:
                    return
            self.ended = self.ended or "stopped"
        finally:
            await self._settle()

    async def _session(self) -> _End:
        started = time.monotonic()
        try:
            ws = await self._connect()
        except HostBanned as exc:
            await self._end_banned(exc)
            return _End.STOP
        except (HostRefused, OSError, TimeoutError, WebSocketException) as exc:
            reason = exc.reason if isinstance(exc, HostRefused) else "connect_failed"
            metrics.CONNECT_FAILURES_TOTAL.labels(reason).inc()
            await self._failed(f"connect: {exc!r}")
            return _End.RECONNECT
        self._ws = ws
        self._connected_since_us = time.time_ns() // 1000
        metrics.HOSTS_CONNECTED.inc()
        received_any = False
        try:
            received_any = await self._read(ws)
            end, reason = _End.RECONNECT, "closed"
        except HostBanned as exc:
            await self._end_banned(exc)
            end, reason = _End.STOP, exc.reason
        except UpstreamError as exc:
            reason = exc.reason
            self._last_error = str(exc)[:200]
            end = _End.STOP if reason == "future_cursor" else _End.RECONNECT
            if reason not in ("future_cursor", "stopping"):
                logger.warning(
                    "upstream error", extra={"host": self.hostname, "reason": reason, "error": str(exc)}
                )
        except ConnectionClosed as exc:
            reason = _close_reason(exc)
            self._last_error = str(exc)[:200]
            end = _End.RECONNECT
        finally:
            self._ws = None
            metrics.HOSTS_CONNECTED.dec()
            await ws.close()
        metrics.DISCONNECTS_TOTAL.labels(reason).inc()
        healthy = received_any or time.monotonic() - started >= _HEALTHY_SESSION_SECONDS
        if self._stopping.is_set():
            return _End.STOP
        if end is _End.RECONNECT:
            if healthy:
                # One short pause even after a good session: a host that sends a frame and
                # hangs up, over and over, must not spin.
                self._failures = 1
                self._last_error = f"disconnected: {reason}"
            else:
                await self._failed(f"disconnected: {reason}")
        return end

    async def _connect(self) -> ClientConnection:
        address = self.address
        ip = await resolve_public(
            address.dns_name, address.connect_port, allow_private=self._settings.dev_mode
        )
        cursor = self._tracker.restart()
        url = address.subscribe_url(cursor)
        ws = await connect(
            url,
            ssl=self._settings.ssl_context if address.tls else None,
            server_hostname=address.dns_name if address.tls else None,
            host=ip,
            port=address.connect_port,
            proxy=None,
            compression=None,
            max_size=self._settings.max_frame_bytes,
            max_queue=_MAX_QUEUE_FRAMES,
            write_limit=_WRITE_LIMIT_BYTES,
            open_timeout=self._settings.open_timeout_seconds,
            ping_interval=self._settings.ping_interval_seconds,
            ping_timeout=self._settings.ping_interval_seconds,
            close_timeout=5.0,
            user_agent_header=_USER_AGENT,
        )
        try:
            check_not_relay(ws.response.headers.get("Server") if ws.response else None)
        except HostBanned:
            await ws.close()
            raise
        logger.info("connected", extra={"host": self.hostname, "cursor": cursor})
        if self._status is not HostStatus.ACTIVE:
            await self._set_status(HostStatus.ACTIVE, "connected")
        return ws

    async def _read(self, ws: ClientConnection) -> bool:
        """Read until the connection ends; returns whether any frame arrived."""
        guard = SeqGuard(self._tracker.cursor)
        loop = asyncio.get_running_loop()
        received_any = False
        dropped_logged = False
        undecodable_logged = False
        max_bytes = self._settings.max_frame_bytes
        async for message in ws:
            received_at_us = time.time_ns() // 1000
            if isinstance(message, str):
                await ws.close(CloseCode.UNSUPPORTED_DATA, "text frames are not part of subscribeRepos")
                raise UpstreamError("text frame from upstream", reason="text_frame")
            received_any = True
            metrics.FRAMES_RECEIVED_TOTAL.inc()
            self._count_rate(loop.time())
            try:
                peeked = peek_frame(message, max_bytes=max_bytes)
            except UpstreamError as exc:
                # NOTE: the upstream replays from our cursor, so ending the connection here would
                # read this same frame again after every reconnect: the host would stall for good.
                # A frame we cannot route has no seq to publish under; it is dropped and the
                # cursor moves past it with the next good frame.
                metrics.FRAMES_DROPPED_TOTAL.labels(exc.reason).inc()
                if not undecodable_logged:
                    undecodable_logged = True
                    logger.warning(
                        "dropped frame that cannot be routed",
                        extra={"host": self.hostname, "reason": exc.reason, "error": str(exc)[:200]},
                    )
                continue
            if peeked.kind is FrameKind.ERROR:
                await self._upstream_error(peeked.error, peeked.message)
            if peeked.kind is FrameKind.INFO:
                metrics.FRAMES_DROPPED_TOTAL.labels("info").inc()
                logger.info("upstream info", extra={"host": self.hostname, "info": peeked.error})
                continue
            seq = peeked.seq
            if not guard.admit(seq):
                metrics.FRAMES_DROPPED_TOTAL.labels("seq_not_increasing").inc()
                if not dropped_logged:
                    dropped_logged = True
                    extra = {"host": self.hostname, "seq": seq, "last_seq": guard.last}
                    logger.warning("dropped frame whose seq does not increase", extra=extra)
                continue
            self._last_seq = seq
            # The usual case stays inline (an awaited coroutine per frame is measurable): under
            # every rate window and not throttled.
            wait = self.limiter.acquire(loop.time())
            if wait > 0.0 or self._status is HostStatus.THROTTLED:
                await self._pace(loop, wait)
            await self._publish(seq, message, received_at_us)
            if self._tracker.failed:
                raise UpstreamError(
                    "JetStream did not take a frame; resuming from the acked cursor", reason="publish_failed"
                )
        return received_any

    async def _pace(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        """Rate windows: wait (not reading the socket) until the host may send again.

        ``wait`` is the limiter's first answer for this frame (0.0: counted, it may go).
        """
        if wait <= 0.0:
            if self._status is HostStatus.THROTTLED:
                await self._set_status(HostStatus.ACTIVE, "rate back under limits")
            return
        while wait > 0.0:
            if wait >= _THROTTLED_AFTER_SECONDS and self._status is not HostStatus.THROTTLED:
                await self._set_status(HostStatus.THROTTLED, "over a rate window; reads paused")
            metrics.RATE_LIMITED_SECONDS_TOTAL.inc(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            if self._stopping.is_set():
                raise UpstreamError("stopping", reason="stopping")
            wait = self.limiter.acquire(loop.time())

    async def _publish(self, seq: int, frame: bytes, received_at_us: int) -> None:
        tracker = self._tracker
        tracker.sent(seq)
        # Counted first: the publisher may hand over the outcome before `publish` returns.
        self._outstanding += 1
        self._settled.clear()
        try:
            await self._publisher.publish(self.hostname, seq, frame, received_at_us, self._settled_one(seq))
        except BaseException as exc:
            # The publish never left, so its outcome will never come.
            self._outstanding -= 1
            if self._outstanding == 0:
                self._settled.set()
            if isinstance(exc, MaxPayloadError):
                # NATS can never carry this frame (its max_payload is below our max frame size):
                # retrying would stall the host on it forever, so it is dropped and counted.
                tracker.acked(seq)
                metrics.FRAMES_DROPPED_TOTAL.labels("frame_too_big").inc()
                logger.warning(
                    "dropped frame larger than NATS max_payload",
                    extra={"host": self.hostname, "seq": seq, "frame_bytes": len(frame)},
                )
            elif isinstance(exc, Exception):
                tracker.publish_failed(seq)
                metrics.PUBLISH_FAILURES_TOTAL.labels("client").inc()
                self._last_error = f"publish: {exc!r}"[:200]
            else:
                raise

    def _settled_one(self, seq: int) -> OnAnswer:
        tracker = self._tracker

        def settled(answer: Answer) -> None:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._settled.set()
            if isinstance(answer, AckTimeout):
                tracker.publish_failed(seq)
                metrics.PUBLISH_FAILURES_TOTAL.labels("ack_timeout").inc()
            elif isinstance(answer, Exception):
                tracker.publish_failed(seq)
                metrics.PUBLISH_FAILURES_TOTAL.labels("refused").inc()
                self._last_error = f"publish: {answer!r}"[:200]
            else:
                tracker.acked(seq)
                metrics.FRAMES_PUBLISHED_TOTAL.inc()
                if self._on_first_cursor is not None and tracker.cursor is not None:
                    self._on_first_cursor()
                    self._on_first_cursor = None

        return settled

    async def _settle(self) -> None:
        """Wait for in-flight publishes of this host (bounded by the publisher's ack timeout)."""
        if self._outstanding:
            with contextlib.suppress(TimeoutError):
                timeout = self._settings.ack_timeout_seconds + _ACK_SETTLE_MARGIN_SECONDS
                await asyncio.wait_for(self._settled.wait(), timeout)

    async def _upstream_error(self, error: str | None, message: str | None) -> None:
        if error == _FUTURE_CURSOR:
            logger.warning(
                "upstream says our cursor is in its future; host goes idle",
                extra={"host": self.hostname, "cursor": self._tracker.cursor},
            )
            self.ended = "future_cursor"
            await self._set_status(HostStatus.IDLE, "FutureCursor: our cursor is ahead of the host")
            raise UpstreamError(f"{error}: {message}", reason="future_cursor")
        raise UpstreamError(f"upstream error frame {error!r}: {message!r}", reason="error_frame")

    async def _end_banned(self, exc: HostBanned) -> None:
        logger.warning("host banned", extra={"host": self.hostname, "reason": exc.reason, "error": str(exc)})
        self.ended = "banned"
        self._last_error = str(exc)[:200]
        await self._set_status(HostStatus.BANNED, str(exc))

    async def _failed(self, error: str) -> None:
        self._last_error = error[:200]
        self._failures += 1
        if self._settings.backoff.is_offline(self._failures) and self._status is not HostStatus.OFFLINE:
            logger.warning("host offline; retrying slowly", extra={"host": self.hostname, "error": error})
            await self._set_status(HostStatus.OFFLINE, error)

    async def _set_status(self, status: HostStatus, reason: str) -> None:
        self._status = status
        try:
            await self._on_status(self.hostname, status, reason)
        except Exception as exc:  # the indexer being down must not stop the subscription
            logger.warning("could not persist host status", extra={"host": self.hostname, "error": repr(exc)})

    def _count_rate(self, now: float) -> None:
        if now - self._minute_start >= 60.0:
            elapsed = now - self._minute_start
            self._rate = self._minute_count / elapsed if self._minute_start and elapsed < 120.0 else 0.0
            self._minute_start = now
            self._minute_count = 0
        self._minute_count += 1


def _close_reason(exc: ConnectionClosed) -> str:
    """A bounded label for why a connection closed (1009 = we refused an oversized frame)."""
    sent = exc.sent
    if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
        return "frame_too_big"
    if exc.rcvd is None and sent is None:
        return "connection_lost"
    return "closed"
