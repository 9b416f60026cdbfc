"""Raw frames → JetStream ``RAW_FRAMES``: pipelined publishes with a bound on unacked ones.

Awaiting each ack in turn caps a process at ~5k frames/s; pipelining reaches ~43k/s (see
PERF-NOTES). Each publish returns a future resolved by the ack; the caller (a subscription)
advances its cursor from those futures. At most ``max_in_flight`` publishes are unacked across
all hosts: at the cap :meth:`FramePublisher.publish` waits, so the reading subscriptions stop
reading their sockets (backpressure). A publish JetStream refuses (stream full with
discard-new, no responders) or that is not acked within the timeout resolves its future with an
exception; the subscription then reconnects and the upstream replays from the acked cursor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from nats.errors import MaxPayloadError
from nats.js import JetStreamContext, api
from opentelemetry import trace
from relay_proto.events.v1 import events_pb2
from relay_runtime import tracing
from relay_runtime.streams import RAW_FRAMES, partition_for_host, raw_frame_msg_id, raw_subject

from relay_slurper import metrics

__all__ = ["FramePublisher"]

_MSG_ID_HEADER: Final = "Nats-Msg-Id"
_HEADERS_LINE_BYTES: Final = 16
"""``NATS/1.0\r\n`` plus the closing ``\r\n``, with room to spare."""
_tracer = trace.get_tracer(__name__)


class FramePublisher:
    """Publishes one host's frames in order; shared by every subscription of the process.

    Args:
        js: JetStream context (the runtime's).
        partitions: ``RELAY_RAW_PARTITIONS``.
        max_in_flight: Unacked publishes allowed across all hosts.
        ack_timeout_seconds: An ack slower than this fails the publish.
    """

    def __init__(
        self, js: JetStreamContext, *, partitions: int, max_in_flight: int, ack_timeout_seconds: float
    ) -> None:
        self._js = js
        # NOTE: nats-py exposes the server's max_payload only on the client, not the context.
        client = js._nc
        self._max_payload: Callable[[], int] = lambda: int(client.max_payload)
        self._partitions = partitions
        self._slots = asyncio.Semaphore(max_in_flight)
        self._ack_timeout_seconds = ack_timeout_seconds
        self._subjects: dict[str, str] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def subject_for(self, hostname: str) -> str:
        subject = self._subjects.get(hostname)
        if subject is None:
            subject = raw_subject(partition_for_host(hostname, self._partitions))
            self._subjects[hostname] = subject
        return subject

    async def publish(
        self, hostname: str, seq: int, frame: bytes, received_at_us: int
    ) -> asyncio.Future[api.PubAck]:
        """Send one frame; returns a future that resolves with the ack (or fails).

        Waits while ``max_in_flight`` publishes are unacked. Raises only if the frame could not
        even be handed to the NATS client (e.g. its pending buffer is full while reconnecting).

        Raises:
            MaxPayloadError: the frame with its headers exceeds the server's ``max_payload``; no
                retry can ever carry it.
        """
        payload = events_pb2.RawFrame(
            host=hostname, upstream_seq=seq, received_at_us=received_at_us, frame=frame
        ).SerializeToString()
        with _tracer.start_as_current_span("slurper.publish_raw_frame"):
            headers = tracing.inject_headers({_MSG_ID_HEADER: raw_frame_msg_id(hostname, seq)})
        # NOTE: the server counts headers against max_payload and closes the connection of a
        # client that exceeds it; nats-py checks the payload alone, and when it refuses, the
        # publish_async future it already registered is never released. So check here, first.
        header_bytes = _HEADERS_LINE_BYTES + sum(len(k) + len(v) + 4 for k, v in headers.items())
        if len(payload) + header_bytes > self._max_payload():
            raise MaxPayloadError
        await self._slots.acquire()
        started = time.perf_counter()
        try:
            future = await self._js.publish_async(
                self.subject_for(hostname), payload, stream=RAW_FRAMES.name, headers=headers
            )
        except BaseException:
            self._slots.release()
            raise
        self._in_flight += 1
        self._idle.clear()
        metrics.PUBLISHES_IN_FLIGHT.inc()
        timer = asyncio.get_running_loop().call_later(self._ack_timeout_seconds, future.cancel)

        def settle(done: asyncio.Future[api.PubAck]) -> None:
            timer.cancel()
            self._slots.release()
            self._in_flight -= 1
            metrics.PUBLISHES_IN_FLIGHT.dec()
            if self._in_flight == 0:
                self._idle.set()
            if not done.cancelled() and done.exception() is None:
                metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)

        future.add_done_callback(settle)
        return future

    async def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until every publish settled (shutdown); False if some were still pending."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_seconds)
        except TimeoutError:
            return False
        return True
