"""What a backfill runner is handed: its job, the index, the fetcher and the page committer.

Runners (`backfill_import`, `backfill_crawl`) only fetch, write to the index and call
`commit_page`; the job manager (`backfill`) owns the job's state and its progress watchers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from relay_indexer.backfill_job import ItemProgress
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.host_store import HostStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.xrpc_fetcher import XrpcFetcher

__all__ = ["CommitPage", "JobContext", "PageResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageResult:
    """One page written to the index: the item's next cursor (None with `done`) and counts."""

    cursor: str | None
    done: bool
    dids: int
    failed: int = 0
    size_bytes: int = 0


CommitPage = Callable[[ItemProgress, PageResult], Awaitable[None]]
"""Persists a page's cursor and counts (after its index writes are durable) and publishes them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    job_id: int
    index: CollectionIndex
    fetcher: XrpcFetcher
    repos: RepoStore
    hosts: HostStore
    commit_page: CommitPage
    page_limit: int
    """DIDs asked for per upstream page (listReposByCollection / listRepos), at most 1000."""
    prefetch_pages: int
    """Import pages fetched ahead of the writer (the fetch / write pipeline depth)."""
