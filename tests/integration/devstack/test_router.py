"""The public origin splices plain HTTP and WebSocket connections to the right backend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
from relay_devstack.router import Router
from relay_devstack.routes import Backend
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

pytestmark = pytest.mark.integration


async def echo_backend(name: str) -> asyncio.Server:
    """An HTTP/1.1 backend that answers with its name, the head it received and the body."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        length = next((int(line.split(":")[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)  # fmt: skip
        body = (await reader.readexactly(length)).decode() if length else ""
        payload = json.dumps({"backend": name, "head": head, "body": body}).encode()
        status = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        writer.write(status + b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ws_backend() -> AsyncGenerator[tuple[str, int]]:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(f"hello {ws.request.path if ws.request else '?'}")
        async for message in ws:
            await ws.send(b"echo:" + (message if isinstance(message, bytes) else message.encode()))

    async with serve(handler, "127.0.0.1", 0) as server:
        host, port = next(iter(server.sockets)).getsockname()[:2]
        yield host, port


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    slurper, indexer = await echo_backend("slurper"), await echo_backend("indexer")
    ws = ws_backend()
    firehose_addr = await anext(ws)
    addr = {"slurper": slurper.sockets[0].getsockname()[:2], "indexer": indexer.sockets[0].getsockname()[:2]}
    router = Router(
        {Backend.SLURPER: addr["slurper"], Backend.INDEXER: addr["indexer"], Backend.FIREHOSE: firehose_addr},
        port=0,
    )
    await router.start()
    try:
        yield router
    finally:
        await router.close()
        for server in (slurper, indexer):
            server.close()
            await server.wait_closed()
        await ws.aclose()


async def test_requests_reach_their_backend(router: Router) -> None:
    async with httpx.AsyncClient(base_url=router.origin) as client:
        get = await client.get("/xrpc/com.atproto.sync.getRepo", params={"did": "did:plc:abc"})
        crawl = await client.post("/xrpc/com.atproto.sync.requestCrawl", json={"hostname": "pds.test"})
        again = await client.get("/xrpc/com.atproto.sync.listRepos")
    assert get.json()["backend"] == "indexer"
    assert get.json()["head"].startswith(
        "GET /xrpc/com.atproto.sync.getRepo?did=did%3Aplc%3Aabc HTTP/1.1\r\n"
    )
    assert "X-Forwarded-For: 127.0.0.1\r\nConnection: close\r\n" in get.json()["head"]
    assert crawl.json()["backend"] == "slurper"
    assert json.loads(crawl.json()["body"]) == {"hostname": "pds.test"}
    # The same keep-alive client goes back to the indexer: routing is per request, not per pool.
    assert again.json()["backend"] == "indexer"


async def test_unknown_paths_are_404_and_dead_backends_502(router: Router) -> None:
    async with httpx.AsyncClient(base_url=router.origin) as client:
        missing = await client.get("/admin/secrets")
        assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
        router.backends[Backend.INDEXER] = ("127.0.0.1", 1)  # nothing listens on port 1
        dead = await client.get("/xrpc/com.atproto.sync.getRepo")
        assert dead.status_code == 502 and dead.json()["error"] == "BadGateway"


async def test_malformed_request_gets_400(router: Router) -> None:
    reader, writer = await asyncio.open_connection(router.host, router.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_websocket_upgrade_is_spliced_both_ways(router: Router) -> None:
    url = f"ws://{router.host}:{router.port}/xrpc/com.atproto.sync.subscribeRepos?cursor=7"
    async with connect(url) as ws:
        assert await ws.recv() == "hello /xrpc/com.atproto.sync.subscribeRepos?cursor=7"
        for i in range(3):
            await ws.send(f"frame-{i}".encode())
            assert await ws.recv() == f"echo:frame-{i}".encode()
        big = bytes(range(256)) * 2048  # 512 KiB crosses many 64 KiB splice chunks
        await ws.send(big)
        assert await ws.recv() == b"echo:" + big
