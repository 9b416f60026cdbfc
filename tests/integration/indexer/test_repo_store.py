"""Accounts, repo heads, hosts, bans and settings against a real Postgres."""

from __future__ import annotations

import asyncio

import pytest
from relay_core.syntax import Did
from relay_indexer.account import AccountStatus, AccountUpdate, RepoHead
from relay_indexer.errors import InvalidUpdate, UnknownHost
from relay_indexer.host import HostLimits, HostStatus, HostUpsert
from relay_indexer.policy_store import is_banned

from tests.integration.indexer.conftest import Stores

pytestmark = pytest.mark.integration

A = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
B = Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
HEAD = RepoHead(rev="3l4aaaaaaaa22", commit_cid="bafyreicommit", data_cid="bafyreidata")


async def test_upsert_and_get_accounts_in_batches(stores: Stores) -> None:
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.one.test"))
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.two.test"))
    n = await stores.repos.upsert_accounts(
        [
            AccountUpdate(did=A, host="pds.one.test", head=HEAD),
            AccountUpdate(did=B, host="pds.one.test"),
            AccountUpdate(did=B, upstream_status=AccountStatus.DEACTIVATED),  # merged with the line above
        ]
    )
    assert n == 2
    got = await stores.repos.get_accounts([A, B, Did("did:plc:cccccccccccccccccccccccc")])
    assert set(got) == {A, B}
    assert got[A].head == HEAD and got[A].host == "pds.one.test" and got[A].active
    assert (
        got[B].head is None and got[B].status is AccountStatus.DEACTIVATED and got[B].host == "pds.one.test"
    )
    assert (await stores.hosts.get_host("pds.one.test")).account_count == 2  # type: ignore[union-attr]

    # A partial update keeps what it does not name; moving host moves the count.
    newer = RepoHead(rev="3l4bbbbbbbb22", commit_cid="bafyreicommit2", data_cid="bafyreidata2")
    await stores.repos.upsert_accounts([AccountUpdate(did=A, host="pds.two.test", head=newer)])
    a = await stores.repos.get_account(A)
    assert a is not None and a.head == newer and a.host == "pds.two.test" and a.active
    one = await stores.hosts.get_host("pds.one.test")
    two = await stores.hosts.get_host("pds.two.test")
    assert one is not None and two is not None
    assert (one.account_count, two.account_count) == (1, 1)


async def test_desynchronized_is_durable_and_kept_by_partial_updates(stores: Stores) -> None:
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.one.test"))
    await stores.repos.upsert_accounts([AccountUpdate(did=A, host="pds.one.test", desynchronized=True)])
    a = await stores.repos.get_account(A)
    assert a is not None and a.desynchronized and a.status is AccountStatus.DESYNCHRONIZED
    await stores.repos.upsert_accounts([AccountUpdate(did=A, head=HEAD)])  # says nothing about it
    a = await stores.repos.get_account(A)
    assert a is not None and a.desynchronized
    await stores.repos.upsert_accounts([AccountUpdate(did=A, desynchronized=False)])  # a valid #sync
    a = await stores.repos.get_account(A)
    assert a is not None and not a.desynchronized and a.active


async def test_unknown_host_writes_nothing(stores: Stores) -> None:
    with pytest.raises(UnknownHost) as info:
        await stores.repos.upsert_accounts([AccountUpdate(did=A, host="nowhere.test", head=HEAD)])
    assert info.value.hostnames == ["nowhere.test"]
    assert await stores.repos.get_account(A) is None


async def test_upsert_racing_an_insert_of_the_same_did_updates_it(stores: Stores) -> None:
    """A DID inserted by another writer after the upsert's snapshot is written again (as an update:
    the fields the upsert does not name keep the other writer's values)."""
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.one.test"))
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.two.test"))
    async with stores.pool.acquire() as other:
        racing = other.transaction()
        await racing.start()
        await other.execute(
            "INSERT INTO accounts (did, host_id, upstream_status, desynchronized)"
            " SELECT $1, id, 'deactivated', TRUE FROM hosts WHERE hostname = 'pds.one.test'",
            A,
        )
        await other.execute(
            "UPDATE hosts SET account_count = account_count + 1 WHERE hostname = 'pds.one.test'"
        )
        # The upsert's insert of A waits on the uncommitted row, then finds the conflict.
        upsert = asyncio.create_task(
            stores.repos.upsert_accounts(
                [
                    AccountUpdate(did=A, host="pds.two.test", head=HEAD),
                    AccountUpdate(did=B, host="pds.two.test"),
                ]
            )
        )
        await asyncio.sleep(0.3)
        assert not upsert.done()
        await racing.commit()
        assert await upsert == 2
    got = await stores.repos.get_accounts([A, B])
    assert got[A].host == "pds.two.test" and got[A].head == HEAD
    assert got[A].upstream_status is AccountStatus.DEACTIVATED and got[A].desynchronized
    assert got[B].host == "pds.two.test" and got[B].head is None
    one = await stores.hosts.get_host("pds.one.test")
    two = await stores.hosts.get_host("pds.two.test")
    assert one is not None and two is not None
    assert (one.account_count, two.account_count) == (0, 2)


async def test_a_thousand_accounts_in_one_call(stores: Stores) -> None:
    await stores.hosts.upsert_host(HostUpsert(hostname="big.test"))
    dids = [Did(f"did:web:u{i:04d}.big.test") for i in range(1000)]
    await stores.repos.upsert_accounts([AccountUpdate(did=d, host="big.test", head=HEAD) for d in dids])
    assert len(await stores.repos.get_accounts(dids)) == 1000
    assert (await stores.hosts.get_host("big.test")).account_count == 1000  # type: ignore[union-attr]
    page = await stores.repos.list_repos(after=dids[10], limit=5)
    assert [a.did for a in page] == dids[11:16]


async def test_local_status_wins_and_reverses(stores: Stores) -> None:
    taken = await stores.repos.set_local_status(A, AccountStatus.TAKENDOWN, "spam")
    assert taken.status is AccountStatus.TAKENDOWN and taken.host is None  # before any event
    await stores.repos.set_upstream_statuses([(A, "pds.one.test", AccountStatus.ACTIVE)])
    a = await stores.repos.get_account(A)
    assert a is not None and a.status is AccountStatus.TAKENDOWN
    restored = await stores.repos.set_local_status(A, AccountStatus.ACTIVE, None)
    assert restored.active
    with pytest.raises(InvalidUpdate):
        await stores.repos.set_local_status(A, AccountStatus.DELETED, None)


async def test_upstream_statuses_and_handles(stores: Stores) -> None:
    await stores.hosts.upsert_host(HostUpsert(hostname="pds.one.test"))
    local = await stores.repos.set_upstream_statuses(
        [(A, "pds.one.test", AccountStatus.DEACTIVATED), (B, "pds.one.test", AccountStatus.ACTIVE)]
    )
    assert local == {A: AccountStatus.ACTIVE, B: AccountStatus.ACTIVE}
    assert (await stores.hosts.get_host("pds.one.test")).account_count == 2  # type: ignore[union-attr]
    assert await stores.repos.set_handles([(A, "alice.test"), (B, None)]) == 2
    got = await stores.repos.get_accounts([A, B])
    assert got[A].handle == "alice.test" and got[A].status is AccountStatus.DEACTIVATED
    assert got[B].handle is None and got[B].active


async def test_hosts_page_status_and_cursors(stores: Stores) -> None:
    names = [f"h{i}.test" for i in range(5)]
    for name in names:
        host, created = await stores.hosts.upsert_host(HostUpsert(hostname=name))
        assert created
    host, created = await stores.hosts.upsert_host(
        HostUpsert(hostname="h0.test", trusted=True, limits=HostLimits(account_limit=5, events_per_second=50))
    )
    assert (
        not created
        and host.trusted
        and host.limits.account_limit == 5
        and host.limits.events_per_second == 50
    )
    first = await stores.hosts.list_hosts(after_id=None, limit=3)
    rest = await stores.hosts.list_hosts(after_id=first[-1].id, limit=3)
    assert [h.hostname for h in first + rest] == names
    banned = await stores.hosts.set_host_status("h3.test", HostStatus.BANNED, "abuse")
    assert banned is not None and banned.status is HostStatus.BANNED and banned.status_reason == "abuse"
    assert await stores.hosts.set_host_status("nope.test", HostStatus.IDLE, None) is None
    only_banned = await stores.hosts.list_hosts(after_id=None, limit=10, statuses=[HostStatus.BANNED])
    assert [h.hostname for h in only_banned] == ["h3.test"]
    assert (
        await stores.hosts.set_host_cursors([("h1.test", 10), ("h2.test", 5), ("h1.test", 12), ("x.test", 1)])
        == 2
    )
    h1 = await stores.hosts.get_host("h1.test")
    assert h1 is not None and h1.cursor == 12 and h1.last_seen_at_us is not None


async def test_domain_bans_and_settings(stores: Stores) -> None:
    ban = await stores.policy.add_domain_ban("bad.example", "spam")
    assert ban.domain == "bad.example" and ban.reason == "spam"
    await stores.policy.add_domain_ban("bad.example", "still spam")
    bans = await stores.policy.list_domain_bans()
    assert [(b.domain, b.reason) for b in bans] == [("bad.example", "still spam")]
    domains = {b.domain for b in bans}
    assert is_banned("pds.bad.example", domains) and is_banned("bad.example:443", domains)
    assert not is_banned("notbad.example", domains)
    assert await stores.policy.remove_domain_ban("bad.example")
    assert not await stores.policy.remove_domain_ban("bad.example")
    assert await stores.policy.get_setting("crawl") is None
    await stores.policy.set_setting("crawl", {"public": True, "per_day": 10})
    await stores.policy.set_setting("crawl", {"public": False, "per_day": 10})
    assert await stores.policy.get_setting("crawl") == {"public": False, "per_day": 10}
