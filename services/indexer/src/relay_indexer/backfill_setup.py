"""Builds the backfill machinery from the indexer's config (kept out of `main.py`'s wiring)."""

from __future__ import annotations

import asyncpg
import httpx

from relay_indexer.backfill import BackfillManager, BackfillSettings
from relay_indexer.backfill_store import BackfillStore
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.config import IndexerConfig
from relay_indexer.host_store import HostStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.retry_policy import RetryPolicy
from relay_indexer.xrpc_fetcher import XrpcFetcher

__all__ = ["open_backfill"]


def open_backfill(
    config: IndexerConfig,
    *,
    pool: asyncpg.Pool,
    index: CollectionIndex,
    repos: RepoStore,
    hosts: HostStore,
) -> tuple[BackfillManager, httpx.AsyncClient]:
    """The manager and the HTTP client it fetches with (the caller closes both, manager first)."""
    limits = httpx.Limits(max_connections=max(64, config.backfill_per_host * 16))
    client = httpx.AsyncClient(
        timeout=config.backfill_timeout_seconds,
        limits=limits,
        headers={"user-agent": "relay-indexer-backfill"},
        follow_redirects=False,
    )
    fetcher = XrpcFetcher(
        client,
        policy=RetryPolicy(
            max_attempts=config.backfill_max_attempts,
            base_seconds=config.backfill_backoff_seconds,
            max_seconds=config.backfill_backoff_cap_seconds,
        ),
        interval_seconds=config.backfill_interval_seconds,
        per_origin_concurrency=config.backfill_per_host,
    )
    settings = BackfillSettings(
        page_limit=config.backfill_page_limit,
        prefetch_pages=config.backfill_prefetch,
        import_concurrency=config.backfill_import_nsids,
        crawl_host_concurrency=config.backfill_crawl_hosts,
        import_collections=config.backfill_import_collections,
    )
    manager = BackfillManager(
        store=BackfillStore(pool), index=index, fetcher=fetcher, repos=repos, hosts=hosts, settings=settings
    )
    return manager, client
