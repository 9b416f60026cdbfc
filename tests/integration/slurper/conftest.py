"""Slurper integration fixtures: the real indexer servicer on a real gRPC port over a real
Postgres, a fresh RAW_FRAMES stream on the session's JetStream, and a slurper built in-process
exactly as main.py builds it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_indexer import grpc_api as indexer_grpc
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_proto.events.v1 import events_pb2
from relay_proto.indexer.v1 import indexer_pb2_grpc
from relay_runtime.config import RuntimeConfig
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.jetstream import ensure_streams
from relay_runtime.streams import RAW_FRAMES
from relay_slurper.config import SlurperConfig
from relay_slurper.indexer_client import IndexerHostStore
from relay_slurper.slurper import Slurper


@dataclass(frozen=True, slots=True)
class Indexer:
    address: str
    hosts: HostStore
    policy: PolicyStore
    channel: grpc.aio.Channel


@pytest.fixture
async def indexer(
    postgres_dsn: str, tmp_path: Path, grpc_server_factory: Any, grpc_channel_factory: Any
) -> AsyncIterator[Indexer]:
    await apply_migrations(postgres_dsn)
    pool = await open_pool(postgres_dsn, max_size=4)
    index = CollectionIndex(tmp_path / "collections")
    repos, hosts, policy = RepoStore(pool), HostStore(pool), PolicyStore(pool)
    api = indexer_grpc.IndexerApi(
        repos=repos, hosts=hosts, policy=policy, index=index, applier=EventApplier(index, repos)
    )
    server: GrpcServer = await grpc_server_factory(
        indexer_pb2_grpc.add_IndexerServiceServicer_to_server, api, indexer_grpc.SERVICE_NAME
    )
    try:
        yield Indexer(f"127.0.0.1:{server.port}", hosts, policy, grpc_channel_factory(server.port))
    finally:
        await server.stop(0)
        index.close()
        await close_pool(pool)


@pytest.fixture
async def raw_stream(jetstream: JetStreamContext) -> JetStreamContext:
    """RAW_FRAMES recreated empty (tests in one session share the NATS server)."""
    with contextlib.suppress(NotFoundError):
        await jetstream.delete_stream(RAW_FRAMES.name)
    await ensure_streams(jetstream, [RAW_FRAMES])
    return jetstream


def slurper_config(nats_url: str, indexer_address: str, **overrides: Any) -> SlurperConfig:
    runtime = RuntimeConfig(service="slurper", grpc_port=0, ops_port=0, nats_url=nats_url, dev_mode=True)
    settings: dict[str, Any] = {
        "http_port": 0,
        "indexer_address": indexer_address,
        "upstream_relay": "off",
        "cursor_flush_seconds": 0.2,
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.5,
        "probe_timeout_seconds": 3.0,
        "publish_ack_timeout_seconds": 3.0,
    }
    settings.update(overrides)
    return SlurperConfig(runtime=runtime, **settings)


@pytest.fixture
async def run_slurper(
    nats_server: str, indexer: Indexer, raw_stream: JetStreamContext
) -> AsyncIterator[Callable[..., Awaitable[Slurper]]]:
    """Start an in-process slurper (config overrides as keyword arguments); stopped after the test."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> Slurper:
        config = slurper_config(nats_server, indexer.address, **overrides)
        slurper = Slurper(config, IndexerHostStore(indexer.channel), raw_stream)
        stop = asyncio.Event()
        task = asyncio.create_task(slurper.run(stop))
        running.append((stop, task))
        await asyncio.wait_for(slurper.loaded.wait(), 10)
        return slurper

    yield start
    for stop, task in running:
        stop.set()
        await asyncio.wait_for(task, 20)


async def read_raw_frames(
    js: JetStreamContext, *, expected: int, wait_seconds: float = 15.0
) -> list[events_pb2.RawFrame]:
    """Wait until RAW_FRAMES holds ``expected`` messages, then read them all in stream order."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        info = await js.stream_info(RAW_FRAMES.name)
        if info.state.messages >= expected or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(RAW_FRAMES.name, seq)
        raw = events_pb2.RawFrame()
        raw.ParseFromString(msg.data or b"")
        out.append(raw)
    return out


async def wait_for(
    predicate: Callable[[], Any], *, within_seconds: float = 10.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while not await _call(predicate):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _call(predicate: Callable[[], Any]) -> Any:
    result = predicate()
    if asyncio.iscoroutine(result):
        result = await result
    return result
