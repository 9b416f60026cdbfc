"""Backfill jobs of the collection index: start, pause, resume, progress; resumed after a crash.

One job runs at a time (they share the upstream politeness budget and the index writer). A job
is a task in this process plus its rows in Postgres; the rows are the truth: a job left
`running` by a crashed or stopped process is picked up by `resume_interrupted()` at startup and
continues from each item's committed cursor. Pausing cancels the task (it stops between awaits;
every committed cursor already has its data durable) and records `paused`.

Items of a job run `concurrency` at a time; crawl jobs run the pending-checks item after every
host item, so it sees the checks the host walk could not settle. A job whose items all finish is
`done`; one with an item that failed beyond retries is `failed`, and resuming it retries those
items from their cursors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from relay_core.syntax import Nsid, parse_nsid

from relay_indexer.backfill_context import JobContext, PageResult
from relay_indexer.backfill_crawl import crawl_host, host_base_url, settle_pending_checks
from relay_indexer.backfill_import import import_collection
from relay_indexer.backfill_job import (
    PENDING_CHECKS_ITEM,
    BackfillKind,
    BackfillProgress,
    ItemProgress,
    JobRecord,
    JobState,
)
from relay_indexer.backfill_progress import RateMeter, eta_seconds
from relay_indexer.backfill_store import BackfillStore, JobAlreadyRunning
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.errors import UpstreamError
from relay_indexer.host import HostStatus, normalize_hostname
from relay_indexer.host_store import HostStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.xrpc_fetcher import XrpcFetcher

__all__ = ["BackfillManager", "BackfillSettings", "JobNotFound", "JobStateConflict"]

logger = logging.getLogger(__name__)
_WATCH_REFRESH_SECONDS: Final = 1.0
_HOSTS_PAGE: Final = 1000


class JobNotFound(LookupError):
    pass


class JobStateConflict(Exception):
    """The request does not fit the job's state (pausing a finished job, a second running job)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillSettings:
    page_limit: int = 1000
    prefetch_pages: int = 4
    import_concurrency: int = 2
    crawl_host_concurrency: int = 8
    import_collections: tuple[str, ...] = ()
    """NSIDs always imported besides those the index knows (long-tail ones it may not)."""


@dataclass(slots=True)
class _Live:
    job: JobRecord
    items: list[ItemProgress]
    meter: RateMeter = field(default_factory=RateMeter)
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None


class BackfillManager:
    """Owns the backfill jobs of this process. Every method runs on the service's event loop."""

    def __init__(
        self,
        *,
        store: BackfillStore,
        index: CollectionIndex,
        fetcher: XrpcFetcher,
        repos: RepoStore,
        hosts: HostStore,
        settings: BackfillSettings,
    ) -> None:
        self._store = store
        self._index = index
        self._fetcher = fetcher
        self._repos = repos
        self._hosts = hosts
        self._settings = settings
        self._live: dict[int, _Live] = {}
        self._changed = asyncio.Condition()
        self._version = 0

    # -- control ------------------------------------------------------------------------------

    async def start_import(self, source: str, collections: Sequence[str]) -> BackfillProgress:
        """Raises ValueError (bad source or NSID, nothing to import) or JobStateConflict."""
        if not source.startswith(("http://", "https://")):
            raise ValueError(f"import source must be an http(s) URL, not {source!r}")
        wanted = [parse_nsid(c) for c in collections] or self._default_collections()
        if not wanted:
            raise ValueError("no collections to import: the index knows none and none are configured")
        return await self._create(BackfillKind.IMPORT, source, (), [(c, 0) for c in wanted])

    async def start_crawl(self, hostnames: Sequence[str]) -> BackfillProgress:
        """Raises ValueError (unknown or malformed host) or JobStateConflict."""
        items: list[tuple[str, int]] = []
        if hostnames:
            for raw in hostnames:
                host = await self._hosts.get_host(normalize_hostname(raw))
                if host is None:
                    raise ValueError(f"unknown host {raw!r}")
                items.append((host.hostname, host.account_count))
        else:
            after: int | None = None
            while page := await self._hosts.list_hosts(
                after_id=after, limit=_HOSTS_PAGE, statuses=[HostStatus.ACTIVE]
            ):
                items += [(h.hostname, h.account_count) for h in page]
                after = page[-1].id
        hosts = tuple(name for name, _ in items)
        return await self._create(BackfillKind.CRAWL, None, hosts, [*items, (PENDING_CHECKS_ITEM, 0)])

    async def pause(self, job_id: int) -> BackfillProgress:
        live = self._live.get(job_id)
        job = live.job if live else await self._job(job_id)
        if job.state is not JobState.RUNNING:
            raise JobStateConflict(f"job {job_id} is {job.state}, not running")
        if live and live.task:
            live.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live.task
        paused = await self._store.set_state(job_id, JobState.PAUSED)
        if live:
            live.job = paused
        await self._notify()
        return await self.progress(job_id)

    async def resume(self, job_id: int) -> BackfillProgress:
        """Run a paused or failed job again from its items' cursors."""
        job = await self._job(job_id)
        live = self._live.get(job_id)
        if job.state is JobState.DONE or (live and live.task and not live.task.done()):
            raise JobStateConflict(f"job {job_id} is {job.state}")
        await self._launch(await self._set_running(job_id))
        return await self.progress(job_id)

    async def resume_interrupted(self) -> list[int]:
        """Continue jobs a previous process left running (crash, restart). Call once at startup."""
        jobs = await self._store.jobs_in_state(JobState.RUNNING)
        for job in jobs:
            logger.info("resuming backfill job", extra={"job_id": job.id, "kind": job.kind.value})
            await self._launch(job)
        return [j.id for j in jobs]

    async def close(self) -> None:
        """Stop running tasks, leaving their jobs `running` so the next start resumes them."""
        tasks = [live.task for live in self._live.values() if live.task and not live.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- progress -----------------------------------------------------------------------------

    async def progress(self, job_id: int | None = None) -> BackfillProgress:
        """Raises JobNotFound (no such job, or no job at all when `job_id` is None)."""
        if job_id is None:
            latest = await self._store.latest_job()
            if latest is None:
                raise JobNotFound("no backfill job yet")
            job_id = latest.id
        live = self._live.get(job_id)
        if live is None:
            job = await self._job(job_id)
            return BackfillProgress(
                job=job, items=tuple(await self._store.items(job_id)), dids_per_second=0.0, eta_seconds=-1
            )
        return self._snapshot(live)

    async def watch(self, job_id: int | None = None) -> AsyncIterator[BackfillProgress]:
        """A snapshot now, then one per change (checked at least every second), until the job is
        done or failed."""
        last = await self.progress(job_id)
        yield last
        while last.job.state not in (JobState.DONE, JobState.FAILED):
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), _WATCH_REFRESH_SECONDS)
            current = await self.progress(last.job.id)
            if current != last:
                yield current
                last = current

    # -- running ------------------------------------------------------------------------------

    def _default_collections(self) -> list[Nsid]:
        configured = [parse_nsid(c) for c in self._settings.import_collections]
        return list(dict.fromkeys([*self._index.known_collections(), *configured]))

    async def _job(self, job_id: int) -> JobRecord:
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobNotFound(f"no backfill job {job_id}")
        return job

    async def _set_running(self, job_id: int) -> JobRecord:
        try:
            return await self._store.set_state(job_id, JobState.RUNNING)
        except JobAlreadyRunning as exc:
            raise JobStateConflict(str(exc)) from exc

    async def _create(
        self, kind: BackfillKind, source: str | None, hosts: tuple[str, ...], items: list[tuple[str, int]]
    ) -> BackfillProgress:
        try:
            job = await self._store.create_job(kind, source=source, hosts=hosts, items=items)
        except JobAlreadyRunning as exc:
            raise JobStateConflict(str(exc)) from exc
        logger.info("backfill job started", extra={"job_id": job.id, "kind": kind.value, "items": len(items)})
        await self._launch(job)
        return await self.progress(job.id)

    async def _launch(self, job: JobRecord) -> None:
        live = _Live(job, await self._store.items(job.id))
        self._live[job.id] = live
        live.task = asyncio.create_task(self._run(live), name=f"backfill-{job.id}")
        await self._notify()

    def _snapshot(self, live: _Live) -> BackfillProgress:
        now = time.monotonic()
        rate = live.meter.rate(now) if live.job.state is JobState.RUNNING else 0.0
        # Items are mutable; copy them so a snapshot does not change under its reader.
        items = tuple(dataclasses.replace(i) for i in live.items)
        progress = BackfillProgress(job=live.job, items=items, dids_per_second=rate, eta_seconds=-1)
        eta = eta_seconds(
            total=progress.dids_total,
            done=progress.dids_done,
            rate=rate,
            items_total=len(items),
            items_done=progress.items_done,
            elapsed_seconds=now - live.started,
        )
        return dataclasses.replace(progress, eta_seconds=eta)

    async def _notify(self) -> None:
        self._version += 1
        async with self._changed:
            self._changed.notify_all()

    async def _commit_page(self, live: _Live, item: ItemProgress, page: PageResult) -> None:
        await self._store.commit_page(
            live.job.id,
            item.item,
            cursor=page.cursor,
            done=page.done,
            dids=page.dids,
            failed=page.failed,
            size_bytes=page.size_bytes,
        )
        item.cursor, item.done, item.last_error = page.cursor, page.done, None
        item.dids_seen += page.dids
        item.dids_failed += page.failed
        item.bytes_fetched += page.size_bytes
        live.meter.add(time.monotonic(), page.dids + page.failed)
        await self._notify()

    async def _run(self, live: _Live) -> None:
        job = live.job
        live.meter.start(time.monotonic())

        async def commit(item: ItemProgress, page: PageResult) -> None:
            await self._commit_page(live, item, page)

        ctx = JobContext(
            job_id=job.id,
            index=self._index,
            fetcher=self._fetcher,
            repos=self._repos,
            hosts=self._hosts,
            commit_page=commit,
            page_limit=self._settings.page_limit,
            prefetch_pages=self._settings.prefetch_pages,
        )
        todo = [i for i in live.items if not i.done]
        try:
            if job.kind is BackfillKind.IMPORT:
                await self._run_items(ctx, live, todo, self._settings.import_concurrency)
            else:
                hosts = [i for i in todo if i.item != PENDING_CHECKS_ITEM]
                await self._run_items(ctx, live, hosts, self._settings.crawl_host_concurrency)
                await self._run_items(ctx, live, [i for i in todo if i not in hosts], 1)
            failed = [i for i in live.items if not i.done]
            error = f"{len(failed)} item(s) failed; first: {failed[0].last_error}" if failed else None
            state = JobState.FAILED if failed else JobState.DONE
        except Exception as exc:  # a bug or Postgres gone: the job fails visibly, resumable
            logger.exception("backfill job crashed", extra={"job_id": job.id})
            state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
        live.job = await self._store.set_state(job.id, state, last_error=error)
        logger.info("backfill job ended", extra={"job_id": job.id, "state": state.value})
        await self._notify()

    async def _run_items(
        self, ctx: JobContext, live: _Live, items: list[ItemProgress], concurrency: int
    ) -> None:
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(item: ItemProgress) -> None:
            async with slots:
                try:
                    await self._run_item(ctx, live.job, item)
                except UpstreamError as exc:
                    logger.warning(
                        "backfill item failed",
                        extra={"job_id": live.job.id, "item": item.item, "error": str(exc)},
                    )
                    item.last_error = str(exc)
                    await self._store.fail_item(live.job.id, item.item, str(exc))
                    await self._notify()

        async with asyncio.TaskGroup() as group:
            for item in items:
                group.create_task(one(item))

    async def _run_item(self, ctx: JobContext, job: JobRecord, item: ItemProgress) -> None:
        if job.kind is BackfillKind.IMPORT:
            assert job.source is not None
            await import_collection(ctx, item, source=job.source)
        elif item.item == PENDING_CHECKS_ITEM:
            await settle_pending_checks(ctx, item)
        else:
            host = await self._hosts.get_host(item.item)
            if host is None:
                raise UpstreamError(f"host {item.item} is no longer registered")
            await crawl_host(ctx, item, base_url=host_base_url(host.hostname, no_tls=host.no_tls))
