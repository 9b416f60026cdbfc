"""Verified events in, listReposByCollection out: through the applier, RocksDB and a real socket."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer.account import AccountStatus, AccountUpdate
from relay_indexer.event_applier import EventApplier
from relay_indexer.host import HostUpsert
from relay_indexer.verified_event import (
    AccountEvent,
    CommitEvent,
    IdentityEvent,
    OpAction,
    RecordOp,
    SyncEvent,
)

from tests.integration.indexer.conftest import XrpcServer

pytestmark = pytest.mark.integration

POST = Nsid("app.bsky.feed.post")
LIKE = Nsid("app.bsky.feed.like")
CUSTOM = Nsid("com.example.fancy.thing")
COLLECTIONS = (POST, LIKE, CUSTOM)
HOST = "pds.test"


class Model:
    """What the repos really hold; the index must agree with it exactly."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[Did, Nsid]] = Counter()
        self.revs: dict[Did, int] = {}

    def holders(self, collection: Nsid) -> list[Did]:
        return sorted(d for (d, c), n in self.counts.items() if c == collection and n > 0)

    def commit(self, did: Did, ops: list[tuple[OpAction, Nsid]]) -> CommitEvent:
        first = did not in self.revs
        self.revs[did] = self.revs.get(did, 0) + 1
        for action, collection in ops:
            self.counts[(did, collection)] += {OpAction.CREATE: 1, OpAction.DELETE: -1}.get(action, 0)
        return CommitEvent(
            did=did,
            host=HOST,
            rev=f"3l{self.revs[did]:011d}",
            since="" if first else f"3l{self.revs[did] - 1:011d}",
            ops=tuple(RecordOp(a, c) for a, c in ops),
        )

    def random_commit(self, rng: random.Random, dids: list[Did]) -> CommitEvent:
        did = rng.choice(dids)
        collection = rng.choice(COLLECTIONS)
        held = self.counts[(did, collection)]
        action = OpAction.DELETE if held and rng.random() < 0.45 else OpAction.CREATE
        return self.commit(did, [(action, collection)])


async def list_all(client: httpx.AsyncClient, collection: Nsid, limit: int) -> list[str]:
    dids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"collection": collection, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/xrpc/com.atproto.sync.listReposByCollection", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        dids += [repo["did"] for repo in body["repos"]]
        cursor = body.get("cursor")
        if cursor is None:
            return dids


async def test_listing_is_exact_and_pagination_stable_under_ingest(
    xrpc_server: XrpcServer, applier: EventApplier
) -> None:
    rng = random.Random(1276)
    dids = [
        Did(f"did:plc:{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz234567') for _ in range(24))}")
        for _ in range(40)
    ]
    model = Model()
    # Genesis commits for every DID, then a churn of creates and deletes across the collections.
    await applier.apply([model.commit(d, [(OpAction.CREATE, rng.choice(COLLECTIONS))]) for d in dids])
    for _ in range(5):
        await applier.apply([model.random_commit(rng, dids) for _ in range(100)])

    # The churn must have emptied some (DID, collection) pairs, or the test proves nothing.
    assert sum(1 for n in model.counts.values() if n == 0) >= 5
    assert all(len(model.holders(c)) >= 5 for c in COLLECTIONS)

    async with httpx.AsyncClient(base_url=xrpc_server.base_url) as client:
        for collection in COLLECTIONS:
            assert await list_all(client, collection, limit=7) == model.holders(collection)

        # Paginate at a small limit while more events land between pages.
        collection = CUSTOM
        held_throughout = set(model.holders(collection))
        ever_held = set(held_throughout)
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params = {"collection": collection, "limit": "3"} | ({"cursor": cursor} if cursor else {})
            body = (await client.get("/xrpc/com.atproto.sync.listReposByCollection", params=params)).json()
            seen += [repo["did"] for repo in body["repos"]]
            batch = [model.random_commit(rng, dids) for _ in range(15)]
            await applier.apply(batch)
            held_throughout &= set(model.holders(collection))
            ever_held |= set(model.holders(collection))
            cursor = body.get("cursor")
            if cursor is None:
                break
        assert seen == sorted(seen) and len(seen) == len(set(seen)), "pages repeated or went backwards"
        assert held_throughout <= set(seen), "a DID listed the whole time was skipped"
        assert set(seen) <= ever_held, "a DID that never held a record was listed"
        # At rest, exact again.
        for collection in COLLECTIONS:
            assert await list_all(client, collection, limit=500) == model.holders(collection)
        assert xrpc_server.index.pending_checks(limit=10) == []  # all DIDs exact: nothing to check


async def test_account_lifecycle_hides_and_removes(xrpc_server: XrpcServer, applier: EventApplier) -> None:
    await xrpc_server.stores.hosts.upsert_host(HostUpsert(hostname=HOST))
    a, b = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
    model = Model()
    await applier.apply(
        [model.commit(a, [(OpAction.CREATE, CUSTOM)]), model.commit(b, [(OpAction.CREATE, CUSTOM)])]
    )

    async with httpx.AsyncClient(base_url=xrpc_server.base_url) as client:

        async def listed() -> list[str]:
            return await list_all(client, CUSTOM, limit=10)

        assert await listed() == [a, b]
        await applier.apply([AccountEvent(did=a, host=HOST, status=AccountStatus.DEACTIVATED)])
        assert await listed() == [b]
        await applier.apply([AccountEvent(did=a, host=HOST, status=AccountStatus.ACTIVE)])
        assert await listed() == [a, b]

        # An operator takedown holds even while the PDS keeps saying "active".
        await applier.set_local_status(b, AccountStatus.TAKENDOWN, "spam")
        await applier.apply([AccountEvent(did=b, host=HOST, status=AccountStatus.ACTIVE)])
        assert await listed() == [a]
        await applier.set_local_status(b, AccountStatus.ACTIVE, None)
        assert await listed() == [a, b]

        # The relay's own announcement of a takedown (admin publishes it after storing the local
        # status) is not the PDS's word: a reversal must find the upstream status untouched.
        await applier.set_local_status(b, AccountStatus.TAKENDOWN, "spam")
        await applier.apply([AccountEvent(did=b, host="", status=AccountStatus.TAKENDOWN, relay_made=True)])
        assert await listed() == [a]
        await applier.set_local_status(b, AccountStatus.ACTIVE, None)
        await applier.apply([AccountEvent(did=b, host="", status=AccountStatus.ACTIVE, relay_made=True)])
        assert await listed() == [a, b]
        account = await xrpc_server.stores.repos.get_account(b)
        assert account is not None and account.upstream_status is AccountStatus.ACTIVE and account.active

        await applier.apply(
            [
                IdentityEvent(did=a, host=HOST, handle="alice.test"),
                AccountEvent(did=a, host=HOST, status=AccountStatus.DELETED),
            ]
        )
        assert await listed() == [b]
        assert xrpc_server.index.collections_of(a) == {}
        account = await xrpc_server.stores.repos.get_account(a)
        assert account is not None and account.handle == "alice.test"
        # The applier made the row on the first #account; later upstream statuses are the
        # validator's to write (UpsertAccounts, in stream order), never the lagging applier's.
        assert account.status is AccountStatus.DEACTIVATED


async def test_sync_then_delete_keeps_until_checked(xrpc_server: XrpcServer, applier: EventApplier) -> None:
    a = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    model = Model()
    await applier.apply([model.commit(a, [(OpAction.CREATE, POST)])])
    await applier.apply([SyncEvent(did=a, host=HOST, rev="3l00000000005")])
    await applier.apply(
        [
            CommitEvent(
                did=a,
                host=HOST,
                rev="3l00000000006",
                since="3l00000000005",
                ops=(RecordOp(OpAction.DELETE, POST),),
            )
        ]
    )
    page = xrpc_server.index.list_repos(POST, after=None, limit=10)
    assert page.dids == [a]  # the sync made the count unknowable: kept, and queued for a check
    assert [c.did for c in xrpc_server.index.pending_checks(limit=10)] == [a, a]


async def test_a_late_account_event_does_not_overwrite_the_validators_status(
    xrpc_server: XrpcServer, applier: EventApplier
) -> None:
    """The validator persists #account statuses in order before acking; the applier reads the
    verified stream later. An old "deactivated" applied after the validator stored "active" must
    not become the durable state (a validator re-reading it would drop the account's commits)."""
    await xrpc_server.stores.hosts.upsert_host(HostUpsert(hostname=HOST))
    a = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    repos = xrpc_server.stores.repos
    await repos.upsert_accounts([AccountUpdate(did=a, host=HOST, upstream_status=AccountStatus.DEACTIVATED)])
    await repos.upsert_accounts([AccountUpdate(did=a, host=HOST, upstream_status=AccountStatus.ACTIVE)])
    await applier.apply([AccountEvent(did=a, host=HOST, status=AccountStatus.DEACTIVATED)])
    account = await repos.get_account(a)
    assert account is not None and account.upstream_status is AccountStatus.ACTIVE
