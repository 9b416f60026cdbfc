"""Import one NSID's listing from another relay (`com.atproto.sync.listReposByCollection`).

A two-stage pipeline: a fetcher task pages ahead (up to `prefetch_pages` decoded pages queued)
while the writer lands each page in RocksDB (`CollectionIndex.import_listing`, one synced
WriteBatch) and then commits the page's cursor. Pages are written strictly in order, so the
committed cursor never passes an unwritten page; a crash redoes at most the pages after it, which
is harmless because importing a listing is idempotent.

Imported DIDs are "not exact" (collection_counts): they are listed because another relay lists
them, are never used to remove anything, and exact DIDs ignore them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

from relay_core.syntax import parse_nsid

from relay_indexer import metrics
from relay_indexer.backfill_context import JobContext, PageResult
from relay_indexer.backfill_job import ItemProgress
from relay_indexer.backfill_pages import CollectionPage, parse_collection_page

__all__ = ["LIST_REPOS_BY_COLLECTION", "import_collection"]

LIST_REPOS_BY_COLLECTION: Final = "com.atproto.sync.listReposByCollection"

_Fetched = tuple[CollectionPage, int] | BaseException


async def import_collection(ctx: JobContext, item: ItemProgress, *, source: str) -> None:
    """Import `item` (an NSID) from `source` starting after the item's committed cursor.

    Raises:
        UpstreamError: the source failed beyond retries; the item keeps its last cursor.
    """
    collection = parse_nsid(item.item)
    queue: asyncio.Queue[_Fetched] = asyncio.Queue(maxsize=max(1, ctx.prefetch_pages))

    async def fetch_pages() -> None:
        cursor = item.cursor
        try:
            while True:
                params: dict[str, str | int] = {"collection": collection, "limit": ctx.page_limit}
                if cursor:
                    params["cursor"] = cursor
                fetched = await ctx.fetcher.get_json(source, LIST_REPOS_BY_COLLECTION, params)
                page = parse_collection_page(fetched.body)
                await queue.put((page, fetched.size_bytes))
                if page.cursor is None:
                    return
                cursor = page.cursor
        except Exception as exc:  # handed to the writer, which raises it in the job's task
            await queue.put(exc)

    fetcher = asyncio.create_task(fetch_pages(), name=f"backfill-import-fetch-{collection}")
    try:
        while True:
            fetched = await queue.get()
            if isinstance(fetched, BaseException):
                raise fetched
            page, size = fetched
            started = time.perf_counter()
            ctx.index.import_listing(collection, page.dids)
            result = PageResult(
                cursor=page.cursor, done=page.cursor is None, dids=len(page.dids), size_bytes=size
            )
            await ctx.commit_page(item, result)
            metrics.BACKFILL_PAGE_SECONDS.observe(time.perf_counter() - started)
            metrics.BACKFILL_DIDS_TOTAL.labels("import").inc(len(page.dids))
            if result.done:
                return
    finally:
        fetcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fetcher
