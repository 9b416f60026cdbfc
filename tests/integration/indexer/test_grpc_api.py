"""IndexerService through a real grpc.aio channel: accounts, hosts, bans, crawl policy, the
collection listing, and backfill start / pause / resume with the progress stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer import grpc_api
from relay_indexer.backfill import BackfillManager, BackfillSettings
from relay_indexer.backfill_store import BackfillStore
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.event_applier import EventApplier
from relay_indexer.retry_policy import RetryPolicy
from relay_indexer.xrpc_fetcher import XrpcFetcher
from relay_proto.indexer.v1 import indexer_pb2 as pb, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2

from tests.integration.indexer.conftest import Stores
from tests.integration.indexer.fake_upstream import LIKE, POST, FakeUpstream, serving

pytestmark = pytest.mark.integration
A = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"


@dataclass
class Api:
    stub: indexer_pb2_grpc.IndexerServiceStub
    index: CollectionIndex
    manager: BackfillManager


@pytest.fixture
async def api(
    stores: Stores, index: CollectionIndex, grpc_server_factory: Any, grpc_channel_factory: Any
) -> AsyncIterator[Api]:
    client = httpx.AsyncClient(timeout=5.0)
    manager = BackfillManager(
        store=BackfillStore(stores.pool),
        index=index,
        fetcher=XrpcFetcher(
            client, policy=RetryPolicy(base_seconds=0.01), interval_seconds=0.0, per_origin_concurrency=2
        ),
        repos=stores.repos,
        hosts=stores.hosts,
        settings=BackfillSettings(page_limit=100, import_concurrency=1),
    )
    servicer = grpc_api.IndexerApi(
        repos=stores.repos,
        hosts=stores.hosts,
        policy=stores.policy,
        index=index,
        applier=EventApplier(index, stores.repos),
        backfill=manager,
    )
    server = await grpc_server_factory(
        indexer_pb2_grpc.add_IndexerServiceServicer_to_server, servicer, grpc_api.SERVICE_NAME
    )
    try:
        yield Api(indexer_pb2_grpc.IndexerServiceStub(grpc_channel_factory(server.port)), index, manager)
    finally:
        await manager.close()
        await client.aclose()


async def test_hosts_accounts_bans_policy_and_listing(api: Api) -> None:
    stub = api.stub
    host = types_pb2.Host(hostname="PDS.Example.com", limits=types_pb2.HostLimits(account_limit=10))
    created = await stub.UpsertHost(pb.UpsertHostRequest(host=host))
    assert created.created and created.host.hostname == "pds.example.com"
    assert (await stub.GetHost(pb.GetHostRequest(hostname="pds.example.com"))).host.limits.account_limit == 10
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetHost(pb.GetHostRequest(hostname="nope.example.com"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND

    update = pb.AccountUpdate(
        did=A, host="pds.example.com", rev="3l0000000000a", commit_cid="bafyc", data_cid="bafyd"
    )
    assert (await stub.UpsertAccounts(pb.UpsertAccountsRequest(accounts=[update]))).upserted == 1
    got = await stub.GetAccounts(pb.GetAccountsRequest(dids=[A, "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"]))
    assert [a.rev for a in got.accounts] == ["3l0000000000a"] and len(got.missing) == 1
    with pytest.raises(grpc.aio.AioRpcError) as unknown_host:
        await stub.UpsertAccounts(pb.UpsertAccountsRequest(accounts=[pb.AccountUpdate(did=A, host="x.test")]))
    assert unknown_host.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    taken = await stub.SetAccountLocalStatus(
        pb.SetAccountLocalStatusRequest(did=A, local_status=types_pb2.ACCOUNT_STATUS_TAKENDOWN, reason="spam")
    )
    assert taken.account.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN

    await stub.AddDomainBan(pb.AddDomainBanRequest(domain="Bad.Example", reason="abuse"))
    assert [b.domain for b in (await stub.ListDomainBans(pb.ListDomainBansRequest())).bans] == ["bad.example"]
    assert (await stub.RemoveDomainBan(pb.RemoveDomainBanRequest(domain="bad.example"))).removed

    assert not (await stub.GetCrawlPolicy(pb.GetCrawlPolicyRequest())).HasField("policy")
    policy = types_pb2.CrawlPolicy(public_request_crawl=True, new_hosts_per_day=50)
    await stub.SetCrawlPolicy(pb.SetCrawlPolicyRequest(policy=policy))
    assert (await stub.GetCrawlPolicy(pb.GetCrawlPolicyRequest())).policy == policy

    batch = api.index.batch()
    for i in range(3):
        did = Did(f"did:plc:{chr(ord('c') + i) * 24}")
        batch.begin_commit(did, "3l0000000000a", first_commit=True)
        batch.record_op(did, Nsid(POST), "create")
    batch.commit()
    first = await stub.ListReposByCollection(pb.ListReposByCollectionRequest(collection=POST, limit=2))
    rest = await stub.ListReposByCollection(
        pb.ListReposByCollectionRequest(collection=POST, limit=2, cursor=first.cursor)
    )
    assert len(first.dids) == 2 and len(rest.dids) == 1 and rest.cursor == ""
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.ListReposByCollection(pb.ListReposByCollectionRequest(collection="not an nsid"))
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_backfill_pause_resume_and_progress_stream(api: Api) -> None:
    stub = api.stub
    upstream = FakeUpstream(n_dids=3000, hold_after=5)
    async with serving(upstream):
        request = pb.StartBackfillRequest(
            kind=types_pb2.BACKFILL_KIND_IMPORT, source=upstream.base_url, collections=[POST, LIKE]
        )
        started = (await stub.StartBackfill(request)).progress
        assert started.state == types_pb2.BACKFILL_STATE_RUNNING and started.items_total == 2
        assert list(started.collections) == [POST, LIKE]
        with pytest.raises(grpc.aio.AioRpcError) as second:
            await stub.StartBackfill(request)
        assert second.value.code() is grpc.StatusCode.FAILED_PRECONDITION

        stream = stub.GetBackfillProgress(pb.GetBackfillProgressRequest(job_id=started.job_id, follow=True))
        seen: list[types_pb2.BackfillProgress] = []
        halfway = asyncio.Event()

        async def follow() -> None:
            async for progress in stream:
                seen.append(progress)
                if progress.repos_done >= 500:
                    halfway.set()

        follower = asyncio.create_task(follow())
        await asyncio.wait_for(halfway.wait(), 30)
        paused = (await stub.PauseBackfill(pb.PauseBackfillRequest(job_id=started.job_id))).progress
        assert paused.state == types_pb2.BACKFILL_STATE_PAUSED
        asked = len(upstream.requests)
        upstream.release()
        await asyncio.sleep(0.3)
        assert len(upstream.requests) <= asked + 1  # at most the parked request lands

        resumed = (await stub.ResumeBackfill(pb.ResumeBackfillRequest(job_id=started.job_id))).progress
        assert resumed.state == types_pb2.BACKFILL_STATE_RUNNING
        await asyncio.wait_for(follower, 30)

    final = seen[-1]
    assert final.state == types_pb2.BACKFILL_STATE_DONE
    assert final.repos_done == 4500 and final.items_done == 2 and final.eta_seconds == 0
    assert any(p.state == types_pb2.BACKFILL_STATE_PAUSED for p in seen)
    assert any(p.dids_per_second > 0 for p in seen)
    assert [p.repos_done for p in seen] == sorted(p.repos_done for p in seen)
    latest = [p async for p in stub.GetBackfillProgress(pb.GetBackfillProgressRequest())]
    assert len(latest) == 1 and latest[0].repos_done == 4500
    assert len(api.index.list_repos(Nsid(LIKE), after=None, limit=5000).dids) == 1500
    with pytest.raises(grpc.aio.AioRpcError) as not_found:
        await stub.PauseBackfill(pb.PauseBackfillRequest(job_id="999"))
    assert not_found.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as done:
        await stub.PauseBackfill(pb.PauseBackfillRequest(job_id=started.job_id))
    assert done.value.code() is grpc.StatusCode.FAILED_PRECONDITION
