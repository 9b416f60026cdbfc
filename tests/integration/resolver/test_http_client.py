"""DocumentFetcher against a real loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from relay_resolver.did_web import PublicAddressResolver
from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.http_client import DocumentFetcher, HttpLimits
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

pytestmark = pytest.mark.integration

LIMIT = 4096


async def chunked(request: Request) -> Response:
    size = int(request.query_params["size"])

    async def body() -> AsyncIterator[bytes]:
        doc = json.dumps({"id": "did:plc:x", "pad": "a" * size}).encode()
        for start in range(0, len(doc), 1000):
            yield doc[start : start + 1000]

    return StreamingResponse(body(), media_type="application/json")


async def gzipped(request: Request) -> Response:
    return Response(gzip.compress(b'{"id": "x"}'), headers={"Content-Encoding": "gzip"})


async def redirect(request: Request) -> Response:
    return RedirectResponse("/chunked?size=1")


async def slow(request: Request) -> Response:
    await asyncio.sleep(1.0)
    return Response(b"{}")


APP = Starlette(
    routes=[
        Route("/chunked", chunked),
        Route("/gzip", gzipped),
        Route("/redirect", redirect),
        Route("/slow", slow),
    ]
)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(APP, lifespan="off", ws="none", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # surfaces a startup failure instead of spinning
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[DocumentFetcher]:
    fetcher = DocumentFetcher(HttpLimits(max_document_bytes=LIMIT, total_timeout_seconds=0.3))
    yield fetcher
    await fetcher.aclose()


async def test_streamed_body_within_limit_is_read(base_url: str, fetcher: DocumentFetcher) -> None:
    doc = await fetcher.fetch_json(f"{base_url}/chunked?size=3000", source="plc")
    assert doc["id"] == "did:plc:x"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/chunked?size=5000", FailureKind.INVALID_DOCUMENT),  # no Content-Length: cut while streaming
        ("/gzip", FailureKind.INVALID_DOCUMENT),
        ("/redirect", FailureKind.INVALID_DOCUMENT),
        ("/slow", FailureKind.UNREACHABLE),
    ],
)
async def test_refusals(base_url: str, fetcher: DocumentFetcher, path: str, kind: FailureKind) -> None:
    with pytest.raises(ResolutionFailed) as info:
        await fetcher.fetch_json(base_url + path, source="plc")
    assert info.value.kind is kind


async def test_connections_to_non_public_addresses_are_refused(base_url: str) -> None:
    url = base_url.replace("127.0.0.1", "localhost") + "/chunked?size=1"
    guarded = DocumentFetcher(HttpLimits(), resolver=PublicAddressResolver())
    exempt = DocumentFetcher(HttpLimits(), resolver=PublicAddressResolver(frozenset({"localhost"})))
    try:
        with pytest.raises(ResolutionFailed) as info:
            await guarded.fetch_json(url, source="web")
        assert info.value.kind is FailureKind.UNREACHABLE
        assert (await exempt.fetch_json(url, source="plc"))["id"] == "did:plc:x"
    finally:
        await guarded.aclose()
        await exempt.aclose()
