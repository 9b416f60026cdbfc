"""Raw frames → JetStream ``RAW_FRAMES``: pipelined publishes with a bound on unacked ones.

Awaiting each ack in turn caps a process at ~5k frames/s; pipelining reaches ~43k/s (see
PERF-NOTES). Each publish hands its outcome to a callback; the caller (a subscription) advances
its cursor from those. At most ``max_in_flight`` publishes are unacked across
all hosts: at the cap :meth:`FramePublisher.publish` waits, so the reading subscriptions stop
reading their sockets (backpressure). A publish JetStream refuses (stream full with
discard-new, no responders) or that is not acked within the timeout settles with an exception;
the subscription then reconnects and the upstream replays from the acked cursor.

Per-frame cost matters here (every upstream event passes through once), so acks come through
one :class:`AckInbox` rather than nats-py's ``publish_async``, and the trace context is made
without an SDK span unless spans are exported (see :meth:`FramePublisher._trace_headers`). The
ack timeout is one sweep timer for all publishes, not a timer handle per in-flight publish.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from typing import Final

from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from opentelemetry import trace
from relay_proto.events.v1 import events_pb2
from relay_runtime import tracing
from relay_runtime.streams import RAW_FRAMES, partition_for_host, raw_frame_msg_id, raw_subject

from relay_slurper import metrics
from relay_slurper.ack_inbox import AckInbox, AckTimeout, Answer, OnAnswer

__all__ = ["FramePublisher"]

_MSG_ID_HEADER: Final = "Nats-Msg-Id"
_TRACEPARENT_HEADER: Final = "traceparent"
_EXPECTED_STREAM_HEADER: Final = "Nats-Expected-Stream"
_HEADERS_OVERHEAD_BYTES: Final = len("NATS/1.0\r\n") + len("\r\n")
"""What nats-py adds around the headers: the status line and the closing blank line."""
_MAX_SWEEP_SECONDS: Final = 1.0
_tracer = trace.get_tracer(__name__)


class FramePublisher:
    """Publishes one host's frames in order; shared by every subscription of the process.

    Args:
        js: JetStream context (the runtime's).
        partitions: ``RELAY_RAW_PARTITIONS``.
        max_in_flight: Unacked publishes allowed across all hosts.
        ack_timeout_seconds: An ack slower than this fails the publish (checked by a sweep every
            tenth of it, at most every second, so it fires up to that much later).
        record_spans: Record an SDK span per publish (when spans are exported); otherwise only a
            fresh trace context is sent with each frame.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        partitions: int,
        max_in_flight: int,
        ack_timeout_seconds: float,
        record_spans: bool = False,
    ) -> None:
        # NOTE: nats-py exposes its client only as a private attribute of the context; acks and
        # the server's max_payload are the client's.
        client = js._nc
        self._nc = client
        self._acks = AckInbox(client)
        self._max_payload: Callable[[], int] = lambda: int(client.max_payload)
        self._partitions = partitions
        self._slots = asyncio.Semaphore(max_in_flight)
        self._ack_timeout_seconds = ack_timeout_seconds
        self._sweep_seconds = min(_MAX_SWEEP_SECONDS, ack_timeout_seconds / 10)
        self._record_spans = record_spans
        self._subjects: dict[str, str] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deadlines: deque[tuple[float, str]] = deque()
        """(ack deadline, ack token) in publish order, so deadlines increase from the left."""
        self._sweeper: asyncio.TimerHandle | None = None
        # Read at scrape time: an inc and a dec per frame cost more than the frame's own work.
        metrics.PUBLISHES_IN_FLIGHT.set_function(lambda: self._in_flight)

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
        self, hostname: str, seq: int, frame: bytes, received_at_us: int, on_settled: OnAnswer
    ) -> None:
        """Send one frame; ``on_settled`` gets its outcome once, after the publisher's own
        bookkeeping: the ack, `AckTimeout`, or the stream's refusal (an exception).

        Waits while ``max_in_flight`` publishes are unacked. Raises only if the frame could not
        even be handed to the NATS client (e.g. its pending buffer is full while reconnecting);
        then ``on_settled`` is never called.

        Raises:
            MaxPayloadError: the frame with its headers exceeds the server's ``max_payload``; no
                retry can ever carry it.
        """
        payload = events_pb2.RawFrame(
            host=hostname, upstream_seq=seq, received_at_us=received_at_us, frame=frame
        ).SerializeToString()
        headers = self._trace_headers(raw_frame_msg_id(hostname, seq))
        # NOTE: the server counts headers against max_payload and closes the connection of a
        # client that exceeds it, while nats-py checks the payload alone. So check here, first.
        header_bytes = _HEADERS_OVERHEAD_BYTES
        for key, value in headers.items():
            header_bytes += len(key) + len(value) + 4
        if len(payload) + header_bytes > self._max_payload():
            raise MaxPayloadError
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        started = loop.time()

        def settle(answer: Answer) -> None:
            self._slots.release()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
            if not isinstance(answer, Exception):
                metrics.PUBLISH_SECONDS.observe(loop.time() - started)
            on_settled(answer)

        # Counted before the publish: nats-py may wait inside `publish` (flushing a full buffer)
        # and the answer, handled by another task, can settle this frame before it returns.
        self._in_flight += 1
        self._idle.clear()
        token = ""
        try:
            reply, token = await self._acks.expect(settle)
            await self._nc.publish(self.subject_for(hostname), payload, reply=reply, headers=headers)
        except BaseException:
            self._acks.forget(token)
            self._slots.release()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
            raise
        self._deadlines.append((started + self._ack_timeout_seconds, token))
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._sweep_seconds, self._sweep)

    def _trace_headers(self, msg_id: str) -> dict[str, str]:
        """``Nats-Msg-Id`` plus a W3C trace context that starts a new trace for this frame.

        An SDK span cost 60-90 µs per frame in the slurper bench, and with no exporter it is
        made only to be dropped. So then the context is written directly: random non-zero ids as
        the SDK's default id generator makes them, and the flags the SDK sets for them: sampled
        (its default sampler, ParentBased(ALWAYS_ON), with no parent here) and random trace id.
        Downstream services see the same header either way (the integration test compares them).
        """
        if self._record_spans:
            with _tracer.start_as_current_span("slurper.publish_raw_frame"):
                headers = tracing.inject_headers({_MSG_ID_HEADER: msg_id})
        else:
            trace_id = random.getrandbits(128) or 1
            span_id = random.getrandbits(64) or 1
            headers = {_MSG_ID_HEADER: msg_id, _TRACEPARENT_HEADER: f"00-{trace_id:032x}-{span_id:016x}-03"}
        # JetStream refuses the publish unless RAW_FRAMES is the stream that takes the subject.
        headers[_EXPECTED_STREAM_HEADER] = RAW_FRAMES.name
        return headers

    def _sweep(self) -> None:
        """Fail publishes not acked by their deadline; re-armed while any is outstanding."""
        now = asyncio.get_running_loop().time()
        deadlines, acks = self._deadlines, self._acks
        while deadlines:
            deadline, token = deadlines[0]
            if acks.waiting(token):
                if deadline > now:
                    break
                acks.fail(token, AckTimeout(f"no JetStream ack within {self._ack_timeout_seconds:g} s"))
            deadlines.popleft()
        self._sweeper = (
            asyncio.get_running_loop().call_later(self._sweep_seconds, self._sweep) if deadlines else None
        )

    async def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until every publish settled (shutdown); False if some were still pending."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_seconds)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop listening for acks (after :meth:`wait_idle`); pending publishes time out."""
        await self._acks.close()
