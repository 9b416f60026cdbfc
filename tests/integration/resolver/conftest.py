"""Fixtures: a real PLC directory on loopback and the real resolver servicer behind real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from relay_proto.resolver.v1 import resolver_pb2_grpc
from relay_resolver import grpc_api
from relay_resolver.did_web import DidWebSource
from relay_resolver.http_client import DocumentFetcher, HttpLimits
from relay_resolver.metrics import PrometheusObserver
from relay_resolver.plc import PlcSource
from relay_resolver.resolver import CachePolicy, DocumentSource, IdentityResolver
from relay_runtime.grpc_server import GrpcServer

from tools.netsim.plc_directory import PlcDirectory, running_plc_directory

PDS_ENDPOINT = "http://localhost:2583"


@dataclass(frozen=True)
class Plc:
    directory: PlcDirectory
    url: str


@dataclass(frozen=True)
class ResolverHarness:
    stub: resolver_pb2_grpc.ResolverServiceStub
    resolver: IdentityResolver
    plc: Plc


@pytest.fixture
async def plc() -> AsyncIterator[Plc]:
    directory = PlcDirectory("integration", (PDS_ENDPOINT,))
    directory.add_accounts(5)
    async with running_plc_directory(directory) as url:
        yield Plc(directory, url)


async def start_resolver(
    plc_url: str,
    *,
    dev_mode: bool = True,
    policy: CachePolicy | None = None,
    max_document_bytes: int = 65_536,
) -> AsyncIterator[tuple[resolver_pb2_grpc.ResolverServiceStub, IdentityResolver]]:
    """The service's own wiring (main.py) minus env and ops HTTP, on a free loopback port."""
    observer = PrometheusObserver()
    fetcher = DocumentFetcher(
        HttpLimits(max_document_bytes=max_document_bytes, total_timeout_seconds=3.0),
        observe_latency=observer.http_request,
    )
    sources: dict[str, DocumentSource] = {
        "plc": PlcSource(fetcher, plc_url),
        "web": DidWebSource(fetcher, dev_mode=dev_mode),
    }
    resolver = IdentityResolver(sources, policy or CachePolicy(max_entries=1000), observer)
    server = GrpcServer(service="resolver", host="127.0.0.1", port=0)
    grpc_api.add_to(server, grpc_api.ResolverApi(resolver, max_batch_dids=50))
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield resolver_pb2_grpc.ResolverServiceStub(channel), resolver
    finally:
        await channel.close()
        await server.stop(0)
        await resolver.aclose()
        await fetcher.aclose()


@pytest.fixture
async def harness(plc: Plc) -> AsyncIterator[ResolverHarness]:
    async for stub, resolver in start_resolver(plc.url):
        yield ResolverHarness(stub, resolver, plc)
