"""Cursor semantics of subscribeRepos over a real socket: live, replay, outdated, future, bad."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from nats.js import JetStreamContext
from relay_core.firehose.frames import decode_frame

from tests.integration.firehose.conftest import FirehoseFactory, Publisher, receive, seqs_of

pytestmark = pytest.mark.integration


async def test_live_without_cursor_gets_only_new_events(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    before = await publisher.publish_commits(5)
    fh = await firehose_factory()
    async with websockets.connect(fh.url) as ws:
        assert ws.response is not None and ws.response.headers["Server"] == "atproto-relay"
        await asyncio.sleep(0.1)
        last = await publisher.publish_commits(3)
        messages = await receive(ws, 3)
    assert seqs_of(messages) == [before + 1, before + 2, last]


async def test_cursor_in_window_replays_then_goes_live(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    await publisher.publish_commits(20)
    fh = await firehose_factory()
    async with websockets.connect(f"{fh.url}?cursor=7") as ws:
        replayed = await receive(ws, 13)
        await publisher.publish_commits(4)
        live = await receive(ws, 4)
    assert seqs_of(replayed + live) == list(range(8, 25))
    # The body keeps its upstream shape; only seq changed.
    first = decode_frame(replayed[0])
    assert first.type == "#commit" and first.body["repo"].startswith("did:plc:")


async def test_cursor_at_head_is_live(publisher: Publisher, firehose_factory: FirehoseFactory) -> None:
    last = await publisher.publish_commits(3)
    fh = await firehose_factory()
    async with websockets.connect(f"{fh.url}?cursor={last}") as ws:
        await asyncio.sleep(0.2)
        await publisher.publish_commits(1)
        assert seqs_of(await receive(ws, 1)) == [last + 1]


async def test_outdated_cursor_gets_info_then_oldest(
    publisher: Publisher, firehose_factory: FirehoseFactory, jetstream: JetStreamContext
) -> None:
    await publisher.publish_commits(10)
    await jetstream.purge_stream(publisher.stream.name, seq=6)  # keep seq >= 6
    fh = await firehose_factory()
    async with websockets.connect(f"{fh.url}?cursor=2") as ws:
        messages = await receive(ws, 6)
    info = decode_frame(messages[0])
    assert info.type == "#info" and info.body["name"] == "OutdatedCursor"
    assert seqs_of(messages[1:]) == [6, 7, 8, 9, 10]


async def test_future_cursor_gets_error_and_close(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    last = await publisher.publish_commits(2)
    fh = await firehose_factory()
    async with websockets.connect(f"{fh.url}?cursor={last + 5}") as ws:
        message = await ws.recv()
        assert isinstance(message, bytes)
        frame = decode_frame(message)
        assert frame.is_error and frame.error == "FutureCursor"
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "99999999999999999999999"])
async def test_bad_cursor_is_http_400_before_upgrade(
    publisher: Publisher, firehose_factory: FirehoseFactory, cursor: str
) -> None:
    fh = await firehose_factory()
    with pytest.raises(websockets.InvalidStatus) as caught:
        async with websockets.connect(f"{fh.url}?cursor={cursor}"):
            pass
    response = caught.value.response
    assert response.status_code == 400
    assert response.headers["Server"] == "atproto-relay"
    assert b'"error": "InvalidRequest"' in response.body
