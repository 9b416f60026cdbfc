"""Each sync query against its lexicon (shared/lexicons/com/atproto/sync), over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer.account import AccountStatus, AccountUpdate, RepoHead
from relay_indexer.cursor_codec import encode_cursor
from relay_indexer.host import HostStatus, HostUpsert

from tests.integration.indexer.conftest import XrpcServer

pytestmark = pytest.mark.integration

CUSTOM = Nsid("com.example.fancy.thing")
A = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
B = Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
HEAD_A = RepoHead(rev="3l4aaaaaaaa22", commit_cid="bafyreiacommit", data_cid="bafyreiadata")
HEAD_B = RepoHead(rev="3l4bbbbbbbb22", commit_cid="bafyreibcommit", data_cid="bafyreibdata")


@pytest.fixture
async def client(xrpc_server: XrpcServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=xrpc_server.base_url + "/xrpc/") as c:
        yield c


async def seed_accounts(server: XrpcServer) -> None:
    await server.stores.hosts.upsert_host(HostUpsert(hostname="pds.one.test"))
    await server.stores.hosts.upsert_host(HostUpsert(hostname="localhost:2583", no_tls=True))
    await server.stores.repos.upsert_accounts(
        [
            AccountUpdate(did=A, host="pds.one.test", head=HEAD_A),
            AccountUpdate(did=B, host="localhost:2583", head=HEAD_B),
        ]
    )


def assert_error(r: httpx.Response, status: int, name: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == name and isinstance(body["message"], str)


async def test_health_and_unknown_methods(client: httpx.AsyncClient) -> None:
    r = await client.get("_health")
    assert r.status_code == 200 and r.json() == {"version": "test-1"}
    assert_error(await client.get("com.atproto.sync.subscribeRepos"), 501, "MethodNotImplemented")
    assert_error(await client.get("app.bsky.feed.getTimeline"), 501, "MethodNotImplemented")
    assert_error(await client.post("com.atproto.sync.listRepos"), 405, "InvalidRequest")
    assert_error(await client.get(str(client.base_url.join("/nowhere"))), 404, "NotFound")


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"collection": ""},
        {"collection": "notansid"},
        {"collection": "app.bsky.feed.post", "limit": "0"},
        {"collection": "app.bsky.feed.post", "limit": "2001"},
        {"collection": "app.bsky.feed.post", "limit": "ten"},
        {"collection": "app.bsky.feed.post", "cursor": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"},
        {"collection": "app.bsky.feed.post", "cursor": "%%%"},
    ],
)
async def test_list_repos_by_collection_rejects_bad_params(
    client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    assert_error(
        await client.get("com.atproto.sync.listReposByCollection", params=query), 400, "InvalidRequest"
    )


async def test_list_repos_by_collection_shape_and_default_limit(
    client: httpx.AsyncClient, xrpc_server: XrpcServer
) -> None:
    dids = [Did(f"did:web:u{i:04d}.example.com") for i in range(501)]
    batch = xrpc_server.index.batch()
    for did in dids:
        batch.begin_commit(did, "3l4aaaaaaaa22", first_commit=True)
        batch.record_op(did, CUSTOM, "create")
    batch.commit()
    r = await client.get("com.atproto.sync.listReposByCollection", params={"collection": CUSTOM})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"repos", "cursor"}
    assert body["repos"] == [{"did": d} for d in dids[:500]]
    r = await client.get(
        "com.atproto.sync.listReposByCollection",
        params={"collection": CUSTOM, "cursor": body["cursor"], "limit": "2000"},
    )
    assert r.json() == {"repos": [{"did": dids[500]}]}  # last page: no cursor
    r = await client.get("com.atproto.sync.listReposByCollection", params={"collection": "com.example.empty"})
    assert r.json() == {"repos": []}


async def test_list_repos(client: httpx.AsyncClient, xrpc_server: XrpcServer) -> None:
    await seed_accounts(xrpc_server)
    await xrpc_server.stores.repos.set_local_status(B, AccountStatus.TAKENDOWN, None)
    r = await client.get("com.atproto.sync.listRepos", params={"limit": "1"})
    body = r.json()
    assert body["repos"] == [{"did": A, "head": HEAD_A.commit_cid, "rev": HEAD_A.rev, "active": True}]
    r = await client.get("com.atproto.sync.listRepos", params={"limit": "1", "cursor": body["cursor"]})
    assert r.json() == {
        "repos": [
            {"did": B, "head": HEAD_B.commit_cid, "rev": HEAD_B.rev, "active": False, "status": "takendown"}
        ]
    }
    assert len((await client.get("com.atproto.sync.listRepos")).json()["repos"]) == 2
    for bad in ({"limit": "1001"}, {"limit": "0"}, {"cursor": encode_cursor("nope")}):
        assert_error(await client.get("com.atproto.sync.listRepos", params=bad), 400, "InvalidRequest")


async def test_get_repo_status(client: httpx.AsyncClient, xrpc_server: XrpcServer) -> None:
    await seed_accounts(xrpc_server)
    r = await client.get("com.atproto.sync.getRepoStatus", params={"did": A})
    assert r.json() == {"did": A, "active": True, "rev": HEAD_A.rev}
    await xrpc_server.stores.repos.set_upstream_statuses([(A, "pds.one.test", AccountStatus.DEACTIVATED)])
    r = await client.get("com.atproto.sync.getRepoStatus", params={"did": A})
    assert r.json() == {"did": A, "active": False, "status": "deactivated"}
    r = await client.get("com.atproto.sync.getRepoStatus", params={"did": "did:plc:cccccccccccccccccccccccc"})
    assert_error(r, 400, "RepoNotFound")
    assert_error(await client.get("com.atproto.sync.getRepoStatus"), 400, "InvalidRequest")
    assert_error(
        await client.get("com.atproto.sync.getRepoStatus", params={"did": "alice"}), 400, "InvalidRequest"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (AccountStatus.TAKENDOWN, "RepoTakendown"),
        (AccountStatus.SUSPENDED, "RepoSuspended"),
        (AccountStatus.DEACTIVATED, "RepoDeactivated"),
        (AccountStatus.DELETED, "RepoNotFound"),
    ],
)
async def test_get_latest_commit_errors(
    client: httpx.AsyncClient, xrpc_server: XrpcServer, status: AccountStatus, error: str
) -> None:
    await seed_accounts(xrpc_server)
    r = await client.get("com.atproto.sync.getLatestCommit", params={"did": A})
    assert r.json() == {"cid": HEAD_A.commit_cid, "rev": HEAD_A.rev}
    if status in (AccountStatus.TAKENDOWN, AccountStatus.SUSPENDED):
        await xrpc_server.stores.repos.set_local_status(A, status, None)
    else:
        await xrpc_server.stores.repos.set_upstream_statuses([(A, "pds.one.test", status)])
    assert_error(await client.get("com.atproto.sync.getLatestCommit", params={"did": A}), 400, error)
    assert_error(await client.get("com.atproto.sync.getRepo", params={"did": A}), 400, error)


async def test_get_latest_commit_without_a_head(client: httpx.AsyncClient, xrpc_server: XrpcServer) -> None:
    await xrpc_server.stores.repos.set_upstream_statuses([(A, "pds.one.test", AccountStatus.ACTIVE)])
    assert_error(await client.get("com.atproto.sync.getLatestCommit", params={"did": A}), 400, "RepoNotFound")
    assert_error(await client.get("com.atproto.sync.getLatestCommit"), 400, "InvalidRequest")


async def test_get_repo_redirects_to_the_pds(client: httpx.AsyncClient, xrpc_server: XrpcServer) -> None:
    await seed_accounts(xrpc_server)
    r = await client.get("com.atproto.sync.getRepo", params={"did": A})
    assert r.status_code == 302
    assert r.headers["location"] == (
        "https://pds.one.test/xrpc/com.atproto.sync.getRepo?did=did%3Aplc%3Aaaaaaaaaaaaaaaaaaaaaaaaa"
    )
    r = await client.get("com.atproto.sync.getRepo", params={"did": B, "since": "3jzfcijpj2z2a"})
    assert r.status_code == 302
    assert r.headers["location"] == (
        "http://localhost:2583/xrpc/com.atproto.sync.getRepo"
        "?did=did%3Aplc%3Abbbbbbbbbbbbbbbbbbbbbbbb&since=3jzfcijpj2z2a"
    )
    r = await client.get("com.atproto.sync.getRepo", params={"did": A, "since": "yesterday"})
    assert_error(r, 400, "InvalidRequest")
    r = await client.get("com.atproto.sync.getRepo", params={"did": "did:plc:cccccccccccccccccccccccc"})
    assert_error(r, 400, "RepoNotFound")


async def test_list_hosts_and_get_host_status(client: httpx.AsyncClient, xrpc_server: XrpcServer) -> None:
    await seed_accounts(xrpc_server)
    await xrpc_server.stores.hosts.set_host_cursors([("pds.one.test", 4242)])
    await xrpc_server.stores.hosts.upsert_host(HostUpsert(hostname="gone.test", status=HostStatus.OFFLINE))
    r = await client.get("com.atproto.sync.listHosts", params={"limit": "2"})
    body = r.json()
    assert body["hosts"] == [
        {"hostname": "pds.one.test", "seq": 4242, "accountCount": 1, "status": "active"},
        {"hostname": "localhost:2583", "seq": 0, "accountCount": 1, "status": "active"},
    ]
    r = await client.get("com.atproto.sync.listHosts", params={"cursor": body["cursor"]})
    assert r.json() == {
        "hosts": [{"hostname": "gone.test", "seq": 0, "accountCount": 0, "status": "offline"}]
    }
    for bad in ({"limit": "1001"}, {"limit": "0"}, {"cursor": encode_cursor("x")}):
        assert_error(await client.get("com.atproto.sync.listHosts", params=bad), 400, "InvalidRequest")

    r = await client.get("com.atproto.sync.getHostStatus", params={"hostname": "PDS.one.test"})
    assert r.json() == {"hostname": "pds.one.test", "seq": 4242, "accountCount": 1, "status": "active"}
    r = await client.get("com.atproto.sync.getHostStatus", params={"hostname": "unknown.test"})
    assert_error(r, 400, "HostNotFound")
    assert_error(await client.get("com.atproto.sync.getHostStatus"), 400, "InvalidRequest")
