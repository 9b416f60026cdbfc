"""Ingest integration fixtures: a netsim network and the four ingest services as processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from tests.integration.ingest.pipeline import IngestPipeline, reset_streams, start_pipeline
from tools.netsim.network import Network

HOSTS = 4
ACCOUNTS_PER_HOST = 5


@pytest.fixture
async def net() -> AsyncIterator[Network]:
    async with Network.start(hosts=HOSTS, accounts_per_host=ACCOUNTS_PER_HOST, seed="ingest-it") as running:
        yield running


@pytest.fixture
async def pipeline(
    net: Network, nats_server: str, postgres_dsn: str, jetstream: JetStreamContext, tmp_path: Path
) -> AsyncIterator[IngestPipeline]:
    """Slurper, validator, resolver (on the netsim PLC) and indexer as processes, every netsim
    host added through SlurperService.AddHost and connected."""
    await reset_streams(jetstream)
    async with start_pipeline(
        nats_url=nats_server, database_url=postgres_dsn, plc_url=net.plc_url, state_dir=tmp_path / "relay"
    ) as running:
        await running.add_hosts([host.hostname for host in net.hosts])
        yield running


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, within_seconds: float, what: str) -> None:
    deadline = time.monotonic() + within_seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_seconds}s waiting for {what}")
        await asyncio.sleep(0.1)
