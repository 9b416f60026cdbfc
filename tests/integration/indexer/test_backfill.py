"""Backfill against a fake relay / PDS on loopback (real uvicorn, real Postgres, real RocksDB):
import with injected 429s and 5xx, crash and resume mid-way, crawl settling pending checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer.backfill import BackfillManager, BackfillSettings
from relay_indexer.backfill_job import PENDING_CHECKS_ITEM, JobState
from relay_indexer.backfill_store import BackfillStore
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.host import HostUpsert
from relay_indexer.retry_policy import RetryPolicy
from relay_indexer.xrpc_fetcher import XrpcFetcher

from tests.integration.indexer.conftest import Stores
from tests.integration.indexer.fake_upstream import CUSTOM, LIKE, POST, FakeUpstream, serving

pytestmark = pytest.mark.integration

ManagerFactory = Callable[[CollectionIndex], BackfillManager]


@pytest.fixture
async def make_manager(stores: Stores) -> AsyncIterator[ManagerFactory]:
    client = httpx.AsyncClient(timeout=5.0)
    managers: list[BackfillManager] = []

    def make(index: CollectionIndex) -> BackfillManager:
        fetcher = XrpcFetcher(
            client,
            policy=RetryPolicy(max_attempts=5, base_seconds=0.01, max_seconds=0.05),
            interval_seconds=0.0,
            per_origin_concurrency=4,
        )
        manager = BackfillManager(
            store=BackfillStore(stores.pool),
            index=index,
            fetcher=fetcher,
            repos=stores.repos,
            hosts=stores.hosts,
            settings=BackfillSettings(page_limit=100, prefetch_pages=2, import_concurrency=2),
        )
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await manager.close()
    await client.aclose()


def listed(index: CollectionIndex, collection: str) -> list[str]:
    return list(index.list_repos(Nsid(collection), after=None, limit=100_000).dids)


async def wait_for_state(manager: BackfillManager, job_id: int, *states: JobState) -> None:
    deadline = time.monotonic() + 30
    while (await manager.progress(job_id)).job.state not in states:
        assert time.monotonic() < deadline, "job did not reach the state in time"
        await asyncio.sleep(0.02)


async def test_import_with_rate_limits_and_server_errors(
    index: CollectionIndex, make_manager: ManagerFactory
) -> None:
    faults = {2: 429, 5: 503, 6: 500, 11: 429, 30: 502, 31: 504}
    async with serving(FakeUpstream(n_dids=5000, faults=faults)) as upstream:
        manager = make_manager(index)
        started = await manager.start_import(upstream.base_url, [POST, LIKE, CUSTOM])
        await wait_for_state(manager, started.job.id, JobState.DONE, JobState.FAILED)
        progress = await manager.progress(started.job.id)

    assert progress.job.state is JobState.DONE, progress.last_error
    for collection in (POST, LIKE, CUSTOM):
        assert listed(index, collection) == upstream.expected(collection)
    expected_total = sum(len(upstream.expected(c)) for c in (POST, LIKE, CUSTOM))
    assert progress.dids_done == expected_total  # 5000 + 2500 + 715: each page counted once
    assert progress.items_done == 3
    assert sorted(s for _, _, s in upstream.requests if s != 200) == sorted(faults.values())
    # Every page was asked at most limit 100 and fetched successfully exactly once.
    pages = upstream.served("listReposByCollection")
    assert all(p["limit"] == "100" for p in pages)
    keys = [(p["collection"], p.get("cursor")) for p in pages]
    assert len(keys) == len(set(keys)) == 50 + 25 + 8


async def test_rate_limit_holds_the_origin_for_retry_after(
    index: CollectionIndex, make_manager: ManagerFactory
) -> None:
    async with serving(FakeUpstream(n_dids=300, faults={1: 429}, retry_after="1")) as upstream:
        manager = make_manager(index)
        began = time.monotonic()
        started = await manager.start_import(upstream.base_url, [POST])
        await wait_for_state(manager, started.job.id, JobState.DONE)
    assert time.monotonic() - began >= 1.0
    assert listed(index, POST) == upstream.expected(POST)


async def test_failed_item_keeps_cursor_and_resume_finishes(
    index: CollectionIndex, make_manager: ManagerFactory
) -> None:
    # Requests 3..9 all fail: the item on them exhausts its 5 attempts and the job fails.
    faults = dict.fromkeys(range(3, 10), 503)
    async with serving(FakeUpstream(n_dids=1000, faults=faults)) as upstream:
        manager = make_manager(index)
        started = await manager.start_import(upstream.base_url, [POST])
        await wait_for_state(manager, started.job.id, JobState.FAILED)
        failed = await manager.progress(started.job.id)
        assert failed.last_error and "503" in failed.last_error
        assert 0 < failed.dids_done < 1000
        await manager.resume(started.job.id)
        await wait_for_state(manager, started.job.id, JobState.DONE)
        done = await manager.progress(started.job.id)
    assert listed(index, POST) == upstream.expected(POST)
    assert done.dids_done == 1000


async def test_crash_mid_import_resumes_from_committed_cursor(
    tmp_path: Path, stores: Stores, make_manager: ManagerFactory
) -> None:
    path = tmp_path / "crash-index"
    async with serving(FakeUpstream(n_dids=2000, hold_after=7)) as upstream:
        first_index = CollectionIndex(path)
        first = make_manager(first_index)
        started = await first.start_import(upstream.base_url, [POST])
        job_id = started.job.id
        # The 8th request parks: 7 pages fetched; wait until the writer committed all of them.
        deadline = time.monotonic() + 10
        while (await BackfillStore(stores.pool).items(job_id))[0].dids_seen < 700:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        # "Crash": the task dies between pages, nothing marks the job; the index is reopened.
        await first.close()
        first_index.close()
        committed = (await BackfillStore(stores.pool).items(job_id))[0]
        assert (await first.progress(job_id)).job.state is JobState.RUNNING

        second_index = CollectionIndex(path)
        second = make_manager(second_index)
        upstream.release()
        assert await second.resume_interrupted() == [job_id]
        await wait_for_state(second, job_id, JobState.DONE)
        progress = await second.progress(job_id)
        listing = listed(second_index, POST)
        second_index.close()

    assert listing == upstream.expected(POST)  # no gap
    assert progress.dids_done == 2000  # no page counted twice
    cursors = [p.get("cursor") for p in upstream.served("listReposByCollection")]
    # After the restart the walk continued from the committed cursor, not from the start.
    restart = cursors.index(committed.cursor, 1)
    assert restart >= 7 and None not in cursors[1:]
    assert len(cursors) - len(set(cursors)) <= 1  # at most the parked page is asked twice


async def test_crawl_settles_pending_checks_and_long_tail(
    index: CollectionIndex, stores: Stores, make_manager: ManagerFactory
) -> None:
    upstream = FakeUpstream(n_dids=600, inactive={3, 4}, faults={4: 429, 9: 503})
    async with serving(upstream):
        hostname = upstream.base_url.removeprefix("http://")
        await stores.hosts.upsert_host(HostUpsert(hostname=hostname, no_tls=True))
        # Live ingest left DID 15 (seen mid-life, inexact) listed under LIKE with a pending
        # check; its PDS says it holds only POST. DID 21 holds the long-tail CUSTOM.
        did15, did21 = Did(upstream.dids[15]), Did(upstream.dids[21])
        batch = index.batch()
        batch.begin_commit(did15, "3l0000000000a", first_commit=False)
        batch.record_op(did15, Nsid(LIKE), "update")
        batch.record_op(did15, Nsid(LIKE), "delete")  # count unknown -> check, still listed
        batch.commit()
        assert index.pending_checks(limit=10) and did15 in listed(index, LIKE)

        manager = make_manager(index)
        started = await manager.start_crawl([hostname])
        await wait_for_state(manager, started.job.id, JobState.DONE, JobState.FAILED)
        progress = await manager.progress(started.job.id)

    assert progress.job.state is JobState.DONE, progress.last_error
    assert [i.item for i in progress.items] == [hostname, PENDING_CHECKS_ITEM]
    assert did15 not in listed(index, LIKE) and did15 in listed(index, POST)
    assert did21 in listed(index, CUSTOM)
    assert index.pending_checks(limit=10) == []
    active = [d for i, d in enumerate(upstream.dids) if i not in upstream.inactive]
    assert listed(index, POST) == sorted(active)
    assert listed(index, CUSTOM) == [d for d in upstream.expected(CUSTOM) if d in active]
    assert progress.dids_done == 600 and progress.dids_failed == 0
    # Inactive repos are not described (their PDS would refuse).
    asked = {p["repo"] for p in upstream.served("describeRepo")}
    assert upstream.dids[3] not in asked and len(asked) == 598
