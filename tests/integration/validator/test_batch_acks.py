"""BatchAcks against a real nats-server: stored, refused, no stream, no answer in time."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError
from relay_validator.batch_acks import BatchAcks

pytestmark = pytest.mark.integration


async def test_returns_once_every_message_is_stored(nats_client, jetstream, unique_name) -> None:
    name = unique_name("B")
    await jetstream.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    acks = BatchAcks(nats_client)
    try:
        await acks.publish([(f"{name}.x", b"%d" % i, {}) for i in range(50)], 5.0)
        assert (await jetstream.stream_info(name)).state.messages == 50
    finally:
        await acks.close()
        await jetstream.delete_stream(name)


async def test_a_refusal_fails_the_batch(nats_client, jetstream, unique_name) -> None:
    name = unique_name("B")
    await jetstream.add_stream(
        StreamConfig(name=name, subjects=[f"{name}.>"], max_msgs=2, discard=DiscardPolicy.NEW)
    )
    acks = BatchAcks(nats_client)
    try:
        with pytest.raises(APIError):
            await acks.publish([(f"{name}.x", b"%d" % i, {}) for i in range(3)], 5.0)
    finally:
        await acks.close()
        await jetstream.delete_stream(name)


async def test_no_stream_for_the_subject(nats_client, unique_name) -> None:
    acks = BatchAcks(nats_client)
    try:
        with pytest.raises(NoStreamResponseError):
            await acks.publish([(f"{unique_name('none')}.x", b"1", {})], 5.0)
    finally:
        await acks.close()


async def test_no_answer_in_time_is_a_timeout(nats_client, unique_name) -> None:
    subject = f"{unique_name('silent')}.x"
    silent = await nats_client.subscribe(subject)  # a responder that never answers
    acks = BatchAcks(nats_client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(TimeoutError):
            await acks.publish([(subject, b"1", {})], 0.3)
        assert 0.25 <= loop.time() - started < 2.0
        # A later batch is not confused by the one that timed out.
        with pytest.raises(TimeoutError):
            await acks.publish([(subject, b"2", {})], 0.1)
    finally:
        await silent.unsubscribe()
        await acks.close()
