"""FramePublisher on a real nats-server: what each publish settles with (ack, duplicate, refusal,
timeout), the headers it carries, and that unacked publishes hold their slots (backpressure)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext, api
from nats.js.errors import NoStreamResponseError, NotFoundError
from relay_runtime import tracing
from relay_runtime.streams import RAW_FRAMES, raw_frame_msg_id
from relay_slurper.ack_inbox import AckTimeout, Answer, OnAnswer
from relay_slurper.frame_publisher import FramePublisher

pytestmark = pytest.mark.integration

_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-03")
"""Sampled, random trace id: what the SDK writes for a root span with its default sampler."""
_HOST = "pds.example.com"


class _Outcomes:
    def __init__(self) -> None:
        self.answers: dict[int, Answer] = {}
        self.at: dict[int, float] = {}

    def for_seq(self, seq: int) -> OnAnswer:
        def settled(answer: Answer) -> None:
            assert seq not in self.answers, "settled twice"
            self.answers[seq] = answer
            self.at[seq] = time.monotonic()

        return settled

    async def wait(self, count: int, within_seconds: float = 5.0) -> None:
        deadline = time.monotonic() + within_seconds
        while len(self.answers) < count:
            assert time.monotonic() < deadline, f"{len(self.answers)} of {count} settled"
            await asyncio.sleep(0.01)


async def _without_raw_stream(js: JetStreamContext) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(RAW_FRAMES.name)


async def test_acked_publishes_carry_dedupe_id_and_trace_context_and_duplicates_are_stored_once(
    raw_stream: JetStreamContext,
) -> None:
    tracing.configure_tracing("slurper")  # as the runtime does: spans record only with a provider
    for record_spans in (False, True):
        publisher = FramePublisher(
            raw_stream, partitions=4, max_in_flight=8, ack_timeout_seconds=5.0, record_spans=record_spans
        )
        outcomes = _Outcomes()
        base = 100 if record_spans else 0
        for n, seq in enumerate((base + 1, base + 2, base + 1)):
            await publisher.publish(_HOST, seq, b"frame-%d" % seq, 7, outcomes.for_seq(n))
            await outcomes.wait(n + 1)
        answers = [outcomes.answers[n] for n in range(3)]
        assert all(isinstance(a, api.PubAck) for a in answers)
        assert [a.duplicate for a in answers if isinstance(a, api.PubAck)] == [None, None, True]
        assert publisher.in_flight == 0
        await publisher.close()
    info = await raw_stream.stream_info(RAW_FRAMES.name)
    assert info.state.messages == 4
    stored = await raw_stream.get_msg(RAW_FRAMES.name, info.state.first_seq)
    headers = stored.headers or {}
    assert headers["Nats-Msg-Id"] == raw_frame_msg_id(_HOST, 1)
    assert _TRACEPARENT.fullmatch(headers["traceparent"])
    spanned = await raw_stream.get_msg(RAW_FRAMES.name, info.state.last_seq)
    assert _TRACEPARENT.fullmatch((spanned.headers or {})["traceparent"])
    assert (spanned.headers or {})["traceparent"] != headers["traceparent"]


async def test_no_stream_is_a_refusal(jetstream: JetStreamContext) -> None:
    await _without_raw_stream(jetstream)
    publisher = FramePublisher(jetstream, partitions=4, max_in_flight=8, ack_timeout_seconds=5.0)
    outcomes = _Outcomes()
    await publisher.publish(_HOST, 1, b"frame", 7, outcomes.for_seq(1))
    await outcomes.wait(1)
    assert isinstance(outcomes.answers[1], NoStreamResponseError)
    assert publisher.in_flight == 0
    await publisher.close()


async def test_unanswered_publishes_hold_their_slots_until_they_time_out(
    jetstream: JetStreamContext, nats_client: NatsClient
) -> None:
    # A plain subscriber on the raw subjects and no stream: every publish is delivered, none answered.
    await _without_raw_stream(jetstream)
    seen: list[Msg] = []

    async def swallow(msg: Msg) -> None:
        seen.append(msg)

    listener = await nats_client.subscribe("relay.raw.>", cb=swallow)
    timeout = 0.4
    publisher = FramePublisher(jetstream, partitions=4, max_in_flight=2, ack_timeout_seconds=timeout)
    outcomes = _Outcomes()
    started = time.monotonic()
    await publisher.publish(_HOST, 1, b"a", 7, outcomes.for_seq(1))
    await publisher.publish(_HOST, 2, b"b", 7, outcomes.for_seq(2))
    assert publisher.in_flight == 2
    third = asyncio.create_task(publisher.publish(_HOST, 3, b"c", 7, outcomes.for_seq(3)))
    await asyncio.sleep(timeout / 2)
    assert not third.done(), "the third publish must wait for a free slot"
    await asyncio.wait_for(third, 5)
    unblocked = time.monotonic() - started
    await outcomes.wait(3)
    assert all(isinstance(outcomes.answers[s], AckTimeout) for s in (1, 2, 3))
    # Swept every tenth of the timeout: late by at most that, never early.
    assert timeout <= unblocked <= timeout * 1.1 + 0.5
    assert timeout <= outcomes.at[1] - started <= timeout * 1.1 + 0.5
    assert publisher.in_flight == 0 and len(seen) == 3
    await listener.unsubscribe()
    await publisher.close()


async def test_a_frame_over_max_payload_is_refused_before_it_takes_a_slot(
    raw_stream: JetStreamContext,
) -> None:
    publisher = FramePublisher(raw_stream, partitions=4, max_in_flight=1, ack_timeout_seconds=5.0)
    too_big = b"x" * int(raw_stream._nc.max_payload)
    with pytest.raises(MaxPayloadError):
        await publisher.publish(_HOST, 1, too_big, 7, _Outcomes().for_seq(1))
    outcomes = _Outcomes()
    await asyncio.wait_for(publisher.publish(_HOST, 2, b"fits", 7, outcomes.for_seq(2)), 5)
    await outcomes.wait(1)
    assert isinstance(outcomes.answers[2], api.PubAck)
    await publisher.close()


async def test_acks_that_come_back_while_a_publish_is_still_flushing_are_counted_once(
    raw_stream: JetStreamContext,
) -> None:
    # Frames large enough that nats-py flushes inside `publish` (its pending buffer is 2 MiB):
    # the publish then waits on the socket, and the ack of what it wrote can be handled first.
    publisher = FramePublisher(raw_stream, partitions=4, max_in_flight=64, ack_timeout_seconds=10.0)
    outcomes = _Outcomes()
    frame = b"x" * 700_000
    await asyncio.gather(
        *(publisher.publish(_HOST, seq, frame, 7, outcomes.for_seq(seq)) for seq in range(1, 41))
    )
    await outcomes.wait(40, within_seconds=20)
    assert all(isinstance(a, api.PubAck) for a in outcomes.answers.values())
    assert publisher.in_flight == 0
    assert await publisher.wait_idle(1.0)
    await publisher.close()
