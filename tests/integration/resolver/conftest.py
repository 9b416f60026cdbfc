"""Fixtures: a real PLC directory on loopback and the real resolver servicer behind real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from relay_proto.resolver.v1 import resolver_pb2_grpc
from relay_resolver.resolver import CachePolicy, IdentityResolver

from tests.fixtures.resolver import running_resolver
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
    async with running_resolver(
        plc_url, dev_mode=dev_mode, policy=policy, max_document_bytes=max_document_bytes
    ) as running:
        yield resolver_pb2_grpc.ResolverServiceStub(running.channel), running.resolver


@pytest.fixture
async def harness(plc: Plc) -> AsyncIterator[ResolverHarness]:
    async for stub, resolver in start_resolver(plc.url):
        yield ResolverHarness(stub, resolver, plc)
