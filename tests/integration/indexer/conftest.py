"""Indexer integration fixtures: a migrated database per test, a RocksDB per test, the stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.xrpc_app import create_xrpc_app


@dataclass(frozen=True, slots=True)
class Stores:
    pool: asyncpg.Pool
    repos: RepoStore
    hosts: HostStore
    policy: PolicyStore


@pytest.fixture
async def stores(postgres_dsn: str) -> AsyncIterator[Stores]:
    await apply_migrations(postgres_dsn)
    pool = await open_pool(postgres_dsn, max_size=4)
    try:
        yield Stores(pool, RepoStore(pool), HostStore(pool), PolicyStore(pool))
    finally:
        await close_pool(pool)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[CollectionIndex]:
    idx = CollectionIndex(tmp_path / "collections")
    try:
        yield idx
    finally:
        idx.close()


@pytest.fixture
def applier(index: CollectionIndex, stores: Stores) -> EventApplier:
    return EventApplier(index, stores.repos)


@dataclass(frozen=True, slots=True)
class XrpcServer:
    base_url: str
    index: CollectionIndex
    stores: Stores


@pytest.fixture
async def xrpc_server(index: CollectionIndex, stores: Stores) -> AsyncIterator[XrpcServer]:
    """The XRPC app behind a real uvicorn on a free loopback port."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_xrpc_app(repos=stores.repos, hosts=stores.hosts, index=index, version="test-1"),
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield XrpcServer(f"http://127.0.0.1:{port}", index, stores)
    finally:
        server.should_exit = True
        await task
