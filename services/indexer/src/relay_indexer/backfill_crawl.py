"""Crawl PDS hosts directly: `com.atproto.sync.listRepos` paged, `com.atproto.repo.describeRepo`
per active DID, and the answers settle the collection index.

describeRepo names every collection a repo holds records in, which is exactly what an
import from another relay misses for long-tail collections, and it answers the index's pending
checks (a DID whose count reached zero without proof): `CollectionIndex.settle_described` lists
the DID in those collections, removes it from the others and clears its checks. An answer is
dropped when live ingest applied a commit for the DID while the request was in flight.

Per page, the DIDs are described concurrently (the fetcher caps requests per host), the answers
land in one synced WriteBatch, then the page's cursor is committed. A DID the host refuses
(RepoNotFound, a deactivated repo, a malformed answer) counts as failed and the crawl moves on;
a host that stays unavailable after retries fails the item, which keeps its cursor for a resume.

The `PENDING_CHECKS_ITEM` walks the index's pending checks in DID order and asks each DID's
current host (from the accounts table); DIDs with no known host count as failed and stay pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from relay_core.syntax import Did

from relay_indexer import metrics
from relay_indexer.backfill_context import JobContext, PageResult
from relay_indexer.backfill_job import ItemProgress
from relay_indexer.backfill_pages import parse_described_collections, parse_repos_page
from relay_indexer.collection_index import DescribedRepo
from relay_indexer.errors import InvalidPage, UpstreamRejected

__all__ = ["DESCRIBE_REPO", "LIST_REPOS", "crawl_host", "host_base_url", "settle_pending_checks"]

LIST_REPOS: Final = "com.atproto.sync.listRepos"
DESCRIBE_REPO: Final = "com.atproto.repo.describeRepo"


def host_base_url(hostname: str, *, no_tls: bool) -> str:
    """`https://host` (or `http://` for a dev-mode host registered without TLS)."""
    return f"{'http' if no_tls else 'https'}://{hostname}"


async def _describe(ctx: JobContext, base_url: str, did: Did) -> DescribedRepo | None:
    """None when the host refuses this DID or answers nonsense; other failures raise."""
    state = ctx.index.state_of(did)
    rev_before = state.rev if state else ""
    try:
        fetched = await ctx.fetcher.get_json(base_url, DESCRIBE_REPO, {"repo": did})
        return DescribedRepo(did, parse_described_collections(fetched.body, did), rev_before)
    except (UpstreamRejected, InvalidPage):
        return None


async def _settle(ctx: JobContext, targets: Sequence[tuple[str, Did]]) -> tuple[int, int]:
    """Describe (base URL, DID) pairs concurrently and settle the answers: (settled, failed)."""
    try:
        async with asyncio.TaskGroup() as group:  # one DID's host failing for good stops all
            tasks = [group.create_task(_describe(ctx, url, did)) for url, did in targets]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    answers = [t.result() for t in tasks]
    described = [a for a in answers if a is not None]
    ctx.index.settle_described(described)
    metrics.BACKFILL_DIDS_TOTAL.labels("crawl").inc(len(described))
    return len(described), len(answers) - len(described)


async def crawl_host(ctx: JobContext, item: ItemProgress, *, base_url: str) -> None:
    """Walk one host's listRepos from the item's cursor, describing every active repo.

    Raises:
        UpstreamError: listRepos failed beyond retries, or describeRepo did (host unavailable).
    """
    cursor = item.cursor
    while True:
        params: dict[str, str | int] = {"limit": ctx.page_limit}
        if cursor:
            params["cursor"] = cursor
        fetched = await ctx.fetcher.get_json(base_url, LIST_REPOS, params)
        page = parse_repos_page(fetched.body)
        settled, failed = await _settle(ctx, [(base_url, r.did) for r in page.repos if r.active])
        inactive = sum(1 for r in page.repos if not r.active)
        result = PageResult(
            cursor=page.cursor,
            done=page.cursor is None,
            dids=settled + inactive,
            failed=failed + page.skipped,
            size_bytes=fetched.size_bytes,
        )
        await ctx.commit_page(item, result)
        if result.done:
            return
        cursor = page.cursor


async def settle_pending_checks(ctx: JobContext, item: ItemProgress) -> None:
    """Describe every DID with a pending check at its current host, in DID order from the cursor."""
    after = Did(item.cursor) if item.cursor else None
    base_urls: dict[str, str | None] = {}
    while True:
        checks = ctx.index.pending_checks(limit=ctx.page_limit, after=after)
        dids = list(dict.fromkeys(c.did for c in checks))
        accounts = await ctx.repos.get_accounts(dids) if dids else {}
        targets: list[tuple[str, Did]] = []
        for did in dids:
            account = accounts.get(did)
            hostname = account.host if account else None
            if hostname and hostname not in base_urls:
                host = await ctx.hosts.get_host(hostname)
                base_urls[hostname] = host_base_url(host.hostname, no_tls=host.no_tls) if host else None
            url = base_urls.get(hostname) if hostname else None
            if url:
                targets.append((url, did))
        settled, failed = await _settle(ctx, targets)
        done = len(checks) < ctx.page_limit
        after = dids[-1] if dids else after
        result = PageResult(cursor=after, done=done, dids=settled, failed=failed + len(dids) - len(targets))
        await ctx.commit_page(item, result)
        if done:
            return
