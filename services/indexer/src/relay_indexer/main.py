"""Wiring of the indexer service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from relay_runtime import ServiceRuntime, configure_logging
from relay_runtime.readiness import CheckResult
from relay_runtime.streams import VERIFIED

from relay_indexer import grpc_api, metrics as metrics
from relay_indexer.backfill_setup import open_backfill
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.config import SERVICE, IndexerConfig
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.verified_stream import consume_verified
from relay_indexer.xrpc_app import create_xrpc_app
from relay_indexer.xrpc_server import serve_xrpc

__all__ = ["main", "run"]


async def main() -> None:
    config = IndexerConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    async with ServiceRuntime(
        config.runtime, service_config=config, uses_nats=True, streams=(VERIFIED,)
    ) as runtime:
        await apply_migrations(config.database_url)
        pool = await open_pool(config.database_url)
        index = CollectionIndex(config.rocksdb_path)
        repos, hosts, policy = RepoStore(pool), HostStore(pool), PolicyStore(pool)
        applier = EventApplier(index, repos)
        backfill, http = open_backfill(config, pool=pool, index=index, repos=repos, hosts=hosts)
        # Hooks run in this order: backfill tasks stop (jobs stay resumable), then the stores close.
        runtime.on_shutdown(backfill.close)
        runtime.on_shutdown(http.aclose)
        runtime.on_shutdown(lambda: close_pool(pool))
        runtime.on_shutdown(lambda: asyncio.to_thread(index.close))

        async def postgres_ready() -> CheckResult:
            return CheckResult(await pool.fetchval("SELECT 1") == 1, "postgres unreachable")

        runtime.readiness.add("postgres", postgres_ready)
        xrpc_listening = asyncio.Event()
        runtime.readiness.add("xrpc", lambda: CheckResult(xrpc_listening.is_set(), "xrpc not listening"))
        api = grpc_api.IndexerApi(
            repos=repos, hosts=hosts, policy=policy, index=index, applier=applier, backfill=backfill
        )
        grpc_api.add_to(runtime.grpc, api)
        app = create_xrpc_app(repos=repos, hosts=hosts, index=index, version=version("relay-indexer"))
        if config.backfill_resume:
            await backfill.resume_interrupted()
        await runtime.serve(
            consume_verified(runtime.nats, runtime.jetstream, applier, stop=runtime.stopping),
            serve_xrpc(
                app,
                host=config.runtime.bind_host,
                port=config.http_port,
                stop=runtime.stopping,
                listening=xrpc_listening,
            ),
        )


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
