"""relay_runtime.push_consumer against a real nats-server: order, no waiting, redelivery on re-create."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from relay_devstack.nats import NatsServer
from relay_runtime import jetstream as jsx
from relay_runtime.push_consumer import PushConsumer
from relay_runtime.streams import ConsumerDef, Retention

from tests.helpers.ports import free_port
from tests.helpers.streams import scratch_stream

pytestmark = pytest.mark.integration


@pytest.fixture
async def setup(
    nats_client: NatsClient, jetstream: JetStreamContext, unique_name
) -> AsyncIterator[tuple[ConsumerDef, str]]:
    name = unique_name("P")
    await jsx.ensure_streams(jetstream, [scratch_stream(name)])
    subject = f"{name.lower()}.0"
    consumer = ConsumerDef(
        stream=name,
        durable=unique_name("c"),
        filter_subject=subject,
        description="test",
        ack_wait_seconds=1.0,
        max_ack_pending=50,
    )
    try:
        yield consumer, subject
    finally:
        await jetstream.delete_stream(name)


async def _publish(js: JetStreamContext, subject: str, payloads: list[bytes]) -> None:
    for payload in payloads:
        await jsx.publish(js, subject, payload, msg_id=payload.decode())


async def test_take_hands_out_in_order_without_a_round_trip(nats_client, jetstream, setup) -> None:
    definition, subject = setup
    consumer = PushConsumer(nats_client, jetstream, definition)
    await consumer.start(recreate=True)
    loop = asyncio.get_running_loop()
    try:
        await _publish(jetstream, subject, [b"m%d" % i for i in range(5)])
        got: list[bytes] = []
        while len(got) < 5:
            got += [m.data for m in await consumer.take(3, 2.0)]
        assert got == [b"m0", b"m1", b"m2", b"m3", b"m4"]

        # Idle: the wait ends as soon as one message is stored, not at the timeout.
        late = asyncio.create_task(consumer.take(10, 2.0))
        await asyncio.sleep(0.1)
        started = loop.time()
        await _publish(jetstream, subject, [b"m5"])
        assert [m.data for m in await late] == [b"m5"]
        assert loop.time() - started < 0.5

        # Nothing arrives: [] after the timeout.
        started = loop.time()
        assert await consumer.take(10, 0.3) == []
        assert loop.time() - started >= 0.25
    finally:
        await consumer.stop()


async def test_recreate_delivers_the_unacked_again_at_once_in_order(nats_client, jetstream, setup) -> None:
    definition, subject = setup
    first = PushConsumer(nats_client, jetstream, definition)
    await first.start(recreate=True)
    await _publish(jetstream, subject, [b"a", b"b", b"c", b"d"])
    taken = []
    while len(taken) < 2:
        taken += await first.take(2 - len(taken), 2.0)
    await taken[0].ack_sync()  # "a" is done; "b" was taken and not acked; "c", "d" buffered
    await first.stop()

    second = PushConsumer(nats_client, jetstream, definition)
    await second.start(recreate=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        got: list[bytes] = []
        while len(got) < 3:
            got += [m.data for m in await second.take(10, 2.0)]
        assert got == [b"b", b"c", b"d"]  # not "a" (acked); well before ack_wait
        assert loop.time() - started < definition.ack_wait_seconds
    finally:
        await second.stop()


async def test_in_progress_on_buffered_messages_keeps_them_from_coming_back(
    nats_client, jetstream, setup
) -> None:
    """A stalled loop marks what it holds and what is buffered; nothing is delivered twice."""
    definition, subject = setup
    consumer = PushConsumer(nats_client, jetstream, definition)
    await consumer.start(recreate=True)
    try:
        await _publish(jetstream, subject, [b"x", b"y", b"z"])
        held = await consumer.take(1, 2.0)
        for _ in range(50):
            if len(consumer.buffered()) == 2:
                break
            await asyncio.sleep(0.02)
        assert [m.data for m in consumer.buffered()] == [b"y", b"z"]
        # Stall for 2.5 × ack_wait, marking everything in progress as the partition loop does;
        # a redelivered copy would show up in the buffer.
        for _ in range(5):
            await consumer.keep_in_progress(held)
            await asyncio.sleep(definition.ack_wait_seconds / 2)
            assert [m.data for m in consumer.buffered()] == [b"y", b"z"]
        rest = await consumer.take(10, 0.2)
        assert [m.data for m in rest] == [b"y", b"z"]
        for msg in [*held, *rest]:
            await msg.ack_sync()
        assert await consumer.take(10, 1.5 * definition.ack_wait_seconds) == []
    finally:
        await consumer.stop()


async def test_recreate_on_a_limits_stream_resumes_after_the_ack_floor(
    nats_client, jetstream, unique_name
) -> None:
    """On a limits stream acked messages stay stored: a re-created consumer must not send them
    again, only what was never acked, in order."""
    name = unique_name("L")
    await jsx.ensure_streams(jetstream, [scratch_stream(name, Retention.LIMITS)])
    subject = f"{name.lower()}.0"
    definition = ConsumerDef(stream=name, durable=unique_name("c"), filter_subject=subject, description="t")
    try:
        first = PushConsumer(nats_client, jetstream, definition)
        await first.start(recreate=True)  # no durable yet: from the first message
        await _publish(jetstream, subject, [b"a", b"b", b"c", b"d", b"e"])
        got = []
        while len(got) < 5:
            got += await first.take(10, 2.0)
        assert [m.data for m in got] == [b"a", b"b", b"c", b"d", b"e"]
        for msg in got[:3]:
            await msg.ack_sync()
        await first.stop()

        second = PushConsumer(nats_client, jetstream, definition)
        await second.start(recreate=True)
        again: list[bytes] = []
        while len(again) < 2:
            again += [m.data for m in await second.take(10, 2.0)]
        assert again == [b"d", b"e"]
        assert await second.take(10, 0.3) == []
        await second.stop()
    finally:
        await jetstream.delete_stream(name)


async def test_after_a_reconnect_delivery_starts_again_at_the_first_unacked(tmp_path, unique_name) -> None:
    """Messages in flight when the connection drops would come back only after ack_wait, behind
    newer ones; after the reconnect the consumer is re-created and delivers them first."""
    server = NatsServer(
        tmp_path / "store", client_port=free_port(), monitor_port=0, log_path=tmp_path / "log"
    )
    url = server.start().client_url
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    js = nc.jetstream()
    try:
        name = unique_name("R")
        await jsx.ensure_streams(js, [scratch_stream(name)])
        subject = f"{name.lower()}.0"
        definition = ConsumerDef(stream=name, durable="c", filter_subject=subject, description="t")
        assert definition.ack_wait_seconds >= 30
        consumer = PushConsumer(nc, js, definition)
        await consumer.start(recreate=True)
        await _publish(js, subject, [b"a", b"b", b"c"])
        got = []
        while len(got) < 3:
            got += await consumer.take(10, 2.0)
        await got[0].ack_sync()  # "b" and "c" stay unacked, as if lost on the way

        server.stop()
        server.start()  # same port and store: the stream and the durable survive
        for _ in range(100):
            if nc.is_connected and nc.stats["reconnects"] > 0:
                break
            await asyncio.sleep(0.05)
        await _publish(js, subject, [b"d"])
        again: list[Msg] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0  # far below ack_wait
        while len(again) < 3 and loop.time() < deadline:
            again += await consumer.take(10, 0.5)
        assert [m.data for m in again] == [b"b", b"c", b"d"]
        await consumer.stop()
    finally:
        await nc.close()
        server.stop()
