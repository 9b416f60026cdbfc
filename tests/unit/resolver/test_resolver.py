"""The resolver's cache and single-flight rules, with real asyncio tasks and an in-memory source."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from relay_core.syntax import Did
from relay_resolver.cache import CacheLookup
from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.outcome import Failure, Resolved
from relay_resolver.resolver import CachePolicy, IdentityResolver

from tests.unit.resolver.recording import RecordingObserver
from tools.netsim.plc_directory import derive_account, did_document

PDS = ("http://localhost:2583",)


class InMemorySource:
    """Serves documents from a dict; `gate` holds every fetch until set (to overlap callers)."""

    def __init__(self, docs: dict[str, Mapping[str, Any]]) -> None:
        self.docs = docs
        self.fetches: Counter[str] = Counter()
        self.gate = asyncio.Event()
        self.gate.set()
        self.concurrent = 0
        self.max_concurrent = 0

    async def fetch_document(self, did: Did) -> Mapping[str, Any]:
        self.fetches[did] += 1
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            await self.gate.wait()
        finally:
            self.concurrent -= 1
        if did not in self.docs:
            raise ResolutionFailed(FailureKind.NOT_FOUND, "DID not found (404)")
        return self.docs[did]


def accounts(n: int) -> tuple[list[str], dict[str, Mapping[str, Any]]]:
    dids: list[str] = []
    docs: dict[str, Mapping[str, Any]] = {}
    for i in range(n):
        acct = derive_account("unit", i, PDS)
        dids.append(acct.did)
        docs[acct.did] = did_document(
            acct.did, acct.handle, acct.pds_endpoint, acct.signing_key.public_key.did_key()
        )
    return dids, docs


def make(
    docs: dict[str, Mapping[str, Any]], **policy: Any
) -> tuple[IdentityResolver, InMemorySource, RecordingObserver]:
    source = InMemorySource(docs)
    observer = RecordingObserver()
    resolver = IdentityResolver({"plc": source}, CachePolicy(**policy), observer)
    return resolver, source, observer


async def test_batch_mixes_good_missing_and_invalid() -> None:
    dids, docs = accounts(2)
    missing = "did:plc:" + "a" * 24
    broken = "did:plc:" + "b" * 24
    docs[broken] = {"id": broken, "verificationMethod": []}
    resolver, _, observer = make(docs)
    out = await resolver.resolve_many([dids[0], missing, "not a did", broken, "did:example:123", dids[1]])
    assert isinstance(out[0], Resolved) and out[0].identity.did == dids[0]
    assert str(out[0].identity.handle) == "u0.pds0.test"
    assert out[0].identity.pds_endpoint == PDS[0]
    assert [o.kind for o in out[1:5] if isinstance(o, Failure)] == [
        FailureKind.NOT_FOUND,
        FailureKind.INVALID_DID,
        FailureKind.INVALID_DOCUMENT,
        FailureKind.INVALID_DID,
    ]
    assert isinstance(out[5], Resolved)
    assert observer.outcomes == {"ok": 2, "not_found": 1, "invalid_did": 2, "invalid_document": 1}


async def test_second_call_is_a_cache_hit_and_fresh_bypasses() -> None:
    dids, docs = accounts(1)
    resolver, source, observer = make(docs)
    first = await resolver.resolve(dids[0])
    second = await resolver.resolve(dids[0])
    assert first == second and source.fetches[dids[0]] == 1
    assert observer.lookups[CacheLookup.HIT] == 1
    fresh = await resolver.resolve(dids[0], fresh=True)
    assert source.fetches[dids[0]] == 2
    assert isinstance(fresh, Resolved) and isinstance(first, Resolved)
    assert fresh.resolved_at_us >= first.resolved_at_us
    assert await resolver.resolve(dids[0]) == fresh  # the fresh answer refreshed the cache


async def test_concurrent_misses_share_one_fetch() -> None:
    dids, docs = accounts(1)
    resolver, source, _ = make(docs)
    source.gate.clear()
    callers = [asyncio.create_task(resolver.resolve(dids[0])) for _ in range(20)]
    batch = asyncio.create_task(resolver.resolve_many([dids[0]] * 5))
    await asyncio.sleep(0.01)
    assert resolver.fetches_in_flight == 1
    source.gate.set()
    results = await asyncio.gather(*callers)
    assert all(isinstance(r, Resolved) for r in results)
    assert len(await batch) == 5
    assert source.fetches[dids[0]] == 1
    assert resolver.fetches_in_flight == 0


async def test_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    dids, docs = accounts(1)
    resolver, source, _ = make(docs)
    source.gate.clear()
    first = asyncio.create_task(resolver.resolve(dids[0]))
    second = asyncio.create_task(resolver.resolve(dids[0]))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0)
    source.gate.set()
    assert isinstance(await second, Resolved)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert source.fetches[dids[0]] == 1
    assert resolver.cached_entries == 1


async def test_errors_cached_for_the_error_ttl_only() -> None:
    missing = "did:plc:" + "c" * 24
    resolver, source, _ = make({}, error_ttl_seconds=0.05)
    assert (await resolver.resolve(missing)) == (await resolver.resolve(missing))
    assert source.fetches[missing] == 1
    await asyncio.sleep(0.06)
    await resolver.resolve(missing)
    assert source.fetches[missing] == 2


async def test_identities_expire_after_ttl() -> None:
    dids, docs = accounts(1)
    resolver, source, _ = make(docs, ttl_seconds=0.05)
    await resolver.resolve(dids[0])
    await asyncio.sleep(0.06)
    await resolver.resolve(dids[0])
    assert source.fetches[dids[0]] == 2


async def test_invalidate_drops_entry_and_detaches_running_fetch() -> None:
    dids, docs = accounts(2)
    resolver, source, _ = make(docs)
    await resolver.resolve(dids[0])
    assert resolver.invalidate([dids[0], dids[1]]) == 1
    await resolver.resolve(dids[0])
    assert source.fetches[dids[0]] == 2

    source.gate.clear()
    stale = asyncio.create_task(resolver.resolve(dids[1]))
    await asyncio.sleep(0.01)
    resolver.invalidate([dids[1]])
    source.gate.set()
    assert isinstance(await stale, Resolved)  # waiters still get their answer...
    await resolver.resolve(dids[1])
    assert source.fetches[dids[1]] == 2  # ...but it was not cached


async def test_fresh_supersedes_a_running_fetch() -> None:
    dids, docs = accounts(1)
    resolver, source, _ = make(docs)
    source.gate.clear()
    old = asyncio.create_task(resolver.resolve(dids[0]))
    await asyncio.sleep(0.01)
    new = asyncio.create_task(resolver.resolve(dids[0], fresh=True))
    await asyncio.sleep(0.01)
    assert source.fetches[dids[0]] == 2
    source.gate.set()
    await asyncio.gather(old, new)
    assert await resolver.resolve(dids[0]) == await new


async def test_fetch_concurrency_is_capped() -> None:
    dids, docs = accounts(12)
    resolver, source, _ = make(docs, max_concurrent_fetches=3, max_pending_fetches=100)
    source.gate.clear()
    batch = asyncio.create_task(resolver.resolve_many(dids))
    await asyncio.sleep(0.01)
    assert source.concurrent == 3 and resolver.fetches_in_flight == 12
    source.gate.set()
    assert all(isinstance(o, Resolved) for o in await batch)
    assert source.max_concurrent == 3


async def test_overload_is_answered_not_queued_and_not_cached() -> None:
    dids, docs = accounts(5)
    resolver, source, observer = make(docs, max_concurrent_fetches=2, max_pending_fetches=3)
    source.gate.clear()
    batch = asyncio.create_task(resolver.resolve_many(dids))
    await asyncio.sleep(0.01)
    source.gate.set()
    out = await batch
    assert [isinstance(o, Resolved) for o in out] == [True, True, True, False, False]
    assert observer.outcomes["overloaded"] == 2
    assert resolver.cached_entries == 3
    assert isinstance(await resolver.resolve(dids[4]), Resolved)


async def test_cache_cap_holds_under_a_large_population() -> None:
    dids, docs = accounts(40)
    resolver, _, observer = make(docs, max_entries=10)
    for _ in range(3):
        await resolver.resolve_many(dids)
    assert resolver.cached_entries == 10
    assert observer.size == 10


async def test_unsupported_method_source_missing() -> None:
    resolver, _, _ = make({})
    out = await resolver.resolve("did:web:example.com")
    assert isinstance(out, Failure) and out.kind is FailureKind.INVALID_DID
