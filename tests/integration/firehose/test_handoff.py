"""Replay → live hand-off under continuous publishing: exactly contiguous, no gap, no duplicate."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from relay_firehose.hub import HubSettings

from tests.integration.firehose.conftest import (
    FirehoseFactory,
    Publisher,
    publish_steadily,
    receive_until_seq,
    seqs_of,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("ring_size", [64, 20_000])
async def test_replay_from_old_cursor_hands_off_to_live_without_gap(
    publisher: Publisher, firehose_factory: FirehoseFactory, ring_size: int
) -> None:
    await publisher.publish_commits(3000)
    fh = await firehose_factory(HubSettings(ring_size_events=ring_size))
    feeder = asyncio.create_task(publish_steadily(publisher, total=2000, per_second=2000))
    cursor = 25
    async with websockets.connect(f"{fh.url}?cursor={cursor}", max_size=None) as ws:
        await asyncio.sleep(0.3)  # the hand-off happens while the feeder is still publishing
        last = await feeder
        messages = await receive_until_seq(ws, last)
    assert seqs_of(messages) == list(range(cursor + 1, last + 1))


async def test_many_replayers_from_different_cursors_all_contiguous(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    await publisher.publish_commits(1500)
    fh = await firehose_factory(HubSettings(ring_size_events=200))
    feeder = asyncio.create_task(publish_steadily(publisher, total=1000, per_second=1500))
    cursors = [0, 300, 1200, 1499]

    async def consume(cursor: int) -> list[int]:
        async with websockets.connect(f"{fh.url}?cursor={cursor}", max_size=None) as ws:
            last = await feeder
            return seqs_of(await receive_until_seq(ws, last))

    results = await asyncio.gather(*(consume(c) for c in cursors))
    last = feeder.result()
    for cursor, seqs in zip(cursors, results, strict=True):
        assert seqs == list(range(cursor + 1, last + 1)), cursor
