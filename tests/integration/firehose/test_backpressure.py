"""Slow consumers: live ones are cut with ConsumerTooSlow, replaying ones are never dropped."""

from __future__ import annotations

import asyncio
import socket

import pytest
import websockets
from relay_core.firehose.frames import decode_frame
from relay_firehose.hub import HubSettings

from tests.integration.firehose.conftest import FirehoseFactory, Publisher, receive_until_seq, seqs_of

pytestmark = pytest.mark.integration

SMALL = HubSettings(max_live_buffer_bytes=256 * 1024, catchup_buffer_bytes=64 * 1024, ring_size_events=500)


async def stalled_client(url: str) -> websockets.ClientConnection:
    """A client that stops reading after a few frames (tiny queue, tiny receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.split("/")[2].split(":")
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return await websockets.connect(url, sock=sock, max_queue=2, max_size=None, ping_interval=None)


async def test_slow_live_consumer_gets_consumer_too_slow(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    fh = await firehose_factory(SMALL)
    slow = await stalled_client(fh.url)
    async with websockets.connect(fh.url, max_size=None) as healthy:
        await asyncio.sleep(0.2)
        last = await publisher.publish_commits(4000)  # ~3.3 MB: far past the 256 KiB live limit
        healthy_seqs = seqs_of(await receive_until_seq(healthy, last))
    assert healthy_seqs == list(range(1, last + 1))
    frames: list[bytes] = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(20):
            while True:
                message = await slow.recv()
                assert isinstance(message, bytes)
                frames.append(message)
    last_frame = decode_frame(frames[-1])
    assert last_frame.is_error and last_frame.error == "ConsumerTooSlow"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert seqs_of(frames[:-1]) == list(range(1, len(frames)))  # what it got was contiguous


async def test_slow_catch_up_consumer_is_never_dropped(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    await publisher.publish_commits(3000)
    fh = await firehose_factory(SMALL)
    slow = await stalled_client(f"{fh.url}?cursor=0")
    # While it does not read, live traffic flows and the replica keeps it (paused, not dropped).
    last = await publisher.publish_commits(1000)
    await asyncio.sleep(1.0)
    [sub] = fh.hub.subscribers
    assert sub.state.value == "catching_up"
    assert fh.hub.lag(sub)[0] > 0
    seqs = seqs_of(await receive_until_seq(slow, last, within_seconds=60))
    assert seqs == list(range(1, last + 1))
    await slow.close()


async def test_dead_peer_is_closed_after_missed_pings(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    fh = await firehose_factory(HubSettings(ping_interval_seconds=0.2))
    reader, writer = await asyncio.open_connection("127.0.0.1", fh.server.port)
    writer.write(
        b"GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    # Never answer pings: the server pings twice unanswered, then gives up.
    async with asyncio.timeout(5):
        while await reader.read(1024):
            pass
    assert fh.hub.subscribers == []
    writer.close()


async def test_client_ping_is_answered_and_close_is_echoed(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    fh = await firehose_factory()
    async with websockets.connect(fh.url) as ws:
        latency = await ws.ping()
        await asyncio.wait_for(latency, 5)
    assert ws.close_code == 1000
