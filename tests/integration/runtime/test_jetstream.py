"""JetStream helpers against a real nats-server (tests/fixtures/nats.py)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from opentelemetry import trace
from relay_runtime import jetstream as jsx
from relay_runtime.config import RuntimeConfig
from relay_runtime.service import ServiceRuntime
from relay_runtime.streams import ConsumerDef
from relay_runtime.tracing import configure_tracing, context_from_headers

from tests.helpers.streams import scratch_stream

pytestmark = pytest.mark.integration


async def test_ensure_streams_is_idempotent_and_updates_in_place(jetstream, unique_name) -> None:
    definition = scratch_stream(unique_name("S"))
    await jsx.ensure_streams(jetstream, [definition])
    await jsx.ensure_streams(jetstream, [definition])
    await jsx.ensure_streams(jetstream, [dataclasses.replace(definition, max_age_seconds=120)])
    info = await jetstream.stream_info(definition.name)
    assert info.config.max_age == 120
    assert info.config.retention == "workqueue"
    await jetstream.delete_stream(definition.name)


async def test_only_the_owner_updates_a_stream(jetstream, unique_name) -> None:
    definition = dataclasses.replace(scratch_stream(unique_name("S")), owner="firehose")
    await jsx.ensure_streams(jetstream, [definition], service="validator")
    longer = dataclasses.replace(definition, max_age_seconds=120)
    await jsx.ensure_streams(jetstream, [longer], service="validator")
    assert (await jetstream.stream_info(definition.name)).config.max_age == 60
    await jsx.ensure_streams(jetstream, [longer], service="firehose")
    assert (await jetstream.stream_info(definition.name)).config.max_age == 120
    await jetstream.delete_stream(definition.name)


async def test_publish_dedupes_and_consume_redelivers_failures_with_trace(jetstream, unique_name) -> None:
    configure_tracing("test")
    definition = scratch_stream(unique_name("S"))
    subject = f"{definition.name.lower()}.0"
    await jsx.ensure_streams(jetstream, [definition])
    with trace.get_tracer("test").start_as_current_span("publish") as span:
        first = await jsx.publish(jetstream, subject, b"one", msg_id="h:1")
        again = await jsx.publish(jetstream, subject, b"one", msg_id="h:1")
        await jsx.publish(jetstream, subject, b"two", msg_id="h:2")
        trace_id = span.get_span_context().trace_id
    assert again.duplicate and not first.duplicate

    consumer = ConsumerDef(
        stream=definition.name, durable=unique_name("C"), filter_subject=subject, description="test"
    )
    stop = asyncio.Event()
    seen: list[tuple[bytes, int]] = []
    failed_once: set[bytes] = set()

    async def handler(msg) -> None:
        parent = trace.get_current_span(context_from_headers(msg.headers))
        seen.append((msg.data, parent.get_span_context().trace_id))
        if msg.data == b"one" and msg.data not in failed_once:
            failed_once.add(msg.data)
            raise ValueError("transient")
        if len(seen) >= 3:
            stop.set()

    acked = await asyncio.wait_for(
        jsx.consume(jetstream, consumer, handler, stop=stop, batch=10, fetch_timeout_seconds=0.2), 10
    )
    assert acked == 2
    assert [data for data, _ in seen] == [b"one", b"two", b"one"]
    assert {tid for _, tid in seen} == {trace_id}
    info = await jetstream.stream_info(definition.name)
    assert info.state.messages == 0  # work-queue: acked messages are gone
    await jetstream.delete_stream(definition.name)


async def test_service_runtime_connects_nats_and_reports_it_ready(nats_server, unique_name) -> None:
    config = RuntimeConfig(service="slurper", grpc_port=0, ops_port=0, nats_url=nats_server)
    definition = scratch_stream(unique_name("S"))
    async with ServiceRuntime(config, uses_nats=True, streams=[definition], handle_signals=False) as runtime:
        assert runtime.nats.is_connected
        report = await runtime.readiness.evaluate()
        checks = dict(report.results)
        assert checks["nats"].ok, checks["nats"].reason
        # Not serving yet (serve() not called), so not ready for that reason alone.
        assert [name for name, result in report.results if not result.ok] == ["started"]
        info = await runtime.jetstream.stream_info(definition.name)
        assert info.config.name == definition.name
        await runtime.jetstream.delete_stream(definition.name)
    assert runtime.nats.is_closed


async def test_fetch_batch_returns_what_is_there_without_waiting_to_fill(jetstream, unique_name) -> None:
    definition = scratch_stream(unique_name("S"))
    subject = f"{definition.name.lower()}.0"
    await jsx.ensure_streams(jetstream, [definition])
    consumer = ConsumerDef(
        stream=definition.name, durable=unique_name("c"), filter_subject=subject, description="test"
    )
    await jsx.ensure_consumer(jetstream, consumer)
    sub = await jetstream.pull_subscribe_bind(durable=consumer.durable, stream=definition.name)
    loop = asyncio.get_running_loop()
    try:
        for i in range(3):
            await jsx.publish(jetstream, subject, b"m%d" % i, msg_id=f"h:{i}")
        started = loop.time()
        first = await jsx.fetch_batch(sub, 500, 2.0)
        assert [m.data for m in first] == [b"m0", b"m1", b"m2"]
        assert loop.time() - started < 0.5  # not the 2 s a batch-filling pull would wait

        # Idle: the pull waits for the next message and returns it at once.
        late = asyncio.create_task(jsx.fetch_batch(sub, 500, 2.0))
        await asyncio.sleep(0.2)
        started = loop.time()
        await jsx.publish(jetstream, subject, b"m3", msg_id="h:3")
        assert [m.data for m in await late] == [b"m3"]
        assert loop.time() - started < 0.5

        # The second pull asks for exactly what is pending, so it does not linger to fill 499.
        started = loop.time()
        for round_ in range(20):
            for i in range(3):
                await jsx.publish(jetstream, subject, b"r", msg_id=f"r:{round_}:{i}")
            got = await jsx.fetch_batch(sub, 500, 2.0)
            while len(got) < 3:  # the server's pending count may trail the newest store
                got += await jsx.fetch_batch(sub, 500, 2.0)
            assert len(got) == 3
            for msg in got:
                await msg.ack()
        assert loop.time() - started < 0.6  # a lingering top-up would cost ≥ 20 × 50 ms

        started = loop.time()
        assert await jsx.fetch_batch(sub, 500, 0.3) == []
        assert loop.time() - started >= 0.25
        for msg in [*first]:
            await msg.ack()
    finally:
        await sub.unsubscribe()
        await jetstream.delete_stream(definition.name)
