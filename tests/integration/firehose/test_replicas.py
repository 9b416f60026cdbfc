"""Replicas are stateless: two serve byte-identical frames; a restart loses nothing for cursors."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.integration.firehose.conftest import (
    FirehoseFactory,
    Publisher,
    publish_steadily,
    receive,
    receive_until_seq,
    seqs_of,
)

pytestmark = pytest.mark.integration


async def test_two_replicas_serve_identical_bytes(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    await publisher.publish_commits(50)
    a = await firehose_factory()
    b = await firehose_factory()
    async with (
        websockets.connect(f"{a.url}?cursor=0") as from_a,
        websockets.connect(f"{b.url}?cursor=0") as from_b,
        websockets.connect(a.url) as live_a,
        websockets.connect(b.url) as live_b,
    ):
        await asyncio.sleep(0.2)
        last = await publisher.publish_commits(30)
        replay_a, replay_b = await receive(from_a, 80), await receive(from_b, 80)
        live_messages_a, live_messages_b = await receive(live_a, 30), await receive(live_b, 30)
    assert replay_a == replay_b
    assert live_messages_a == live_messages_b == replay_a[50:]
    assert seqs_of(replay_a) == list(range(1, last + 1))


async def test_consumer_reconnects_after_restart_with_its_cursor_and_misses_nothing(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    await publisher.publish_commits(100)
    first = await firehose_factory()
    feeder = asyncio.create_task(publish_steadily(publisher, total=1500, per_second=1000))
    received: list[int] = []
    async with websockets.connect(f"{first.url}?cursor=0") as ws:
        received += seqs_of(await receive(ws, 400))
        await first.shutdown()  # mid-stream: the feeder keeps publishing
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    message = await ws.recv()
                    assert isinstance(message, bytes)
                    received += seqs_of([message])
    assert ws.close_code == 1001
    second = await firehose_factory()
    async with websockets.connect(f"{second.url}?cursor={received[-1]}") as ws:
        last = await feeder
        received += seqs_of(await receive_until_seq(ws, last))
    assert received == list(range(1, last + 1))
