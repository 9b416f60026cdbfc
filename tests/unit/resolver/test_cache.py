from __future__ import annotations

import pytest
from relay_resolver.cache import CacheLookup, EvictionReason, TtlLruCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(max_entries: int = 3) -> tuple[TtlLruCache[str, int], Clock, list[EvictionReason]]:
    clock = Clock()
    evicted: list[EvictionReason] = []
    return TtlLruCache(max_entries, clock=clock, on_evict=evicted.append), clock, evicted


def test_capacity_evicts_least_recently_used() -> None:
    cache, _, evicted = make(3)
    for i, key in enumerate("abc"):
        cache.put(key, i, 60)
    assert cache.get("a") == 0  # touch: b is now the coldest
    cache.put("d", 3, 60)
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [0, 2, 3]
    assert evicted == [EvictionReason.CAPACITY]


def test_replacing_a_key_does_not_evict_or_grow() -> None:
    cache, _, evicted = make(2)
    cache.put("a", 1, 60)
    cache.put("b", 2, 60)
    cache.put("a", 10, 60)
    assert len(cache) == 2 and evicted == []
    cache.put("c", 3, 60)  # "a" was refreshed by the replace, so "b" goes
    assert cache.get("b") is None and cache.get("a") == 10


def test_entry_expires_after_its_own_ttl() -> None:
    cache, clock, evicted = make()
    cache.put("ok", 1, 3600)
    cache.put("err", 2, 60)
    clock.now += 59.9
    assert cache.lookup("err") == (CacheLookup.HIT, 2)
    clock.now += 0.1
    assert cache.lookup("err") == (CacheLookup.EXPIRED, None)
    assert cache.lookup("err") == (CacheLookup.MISS, None)
    assert cache.lookup("ok") == (CacheLookup.HIT, 1)
    clock.now += 3600
    assert cache.get("ok") is None
    assert len(cache) == 0
    assert evicted == [EvictionReason.EXPIRED, EvictionReason.EXPIRED]


def test_zero_ttl_removes_instead_of_storing() -> None:
    cache, _, _ = make()
    cache.put("a", 1, 60)
    cache.put("a", 2, 0)
    assert cache.get("a") is None and len(cache) == 0


def test_pop_reports_presence() -> None:
    cache, _, evicted = make()
    cache.put("a", 1, 60)
    assert cache.pop("a") is True
    assert cache.pop("a") is False
    assert evicted == [EvictionReason.INVALIDATED]


def test_purge_expired_is_bounded_and_keeps_live_entries() -> None:
    cache, clock, _ = make(100)
    for i in range(10):
        cache.put(f"short{i}", i, 10)
    cache.put("long", 99, 1000)
    clock.now += 11
    assert cache.purge_expired(limit=4) == 4
    assert len(cache) == 7
    assert cache.purge_expired(limit=100) == 6
    assert len(cache) == 1 and cache.get("long") == 99


def test_rejects_non_positive_capacity() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        TtlLruCache(0)


def test_memory_is_bounded_under_churn() -> None:
    cache, clock, evicted = make(1000)
    for i in range(50_000):
        cache.put(f"did:{i}", i, 5 if i % 2 else 3600)
        clock.now += 0.001
    assert len(cache) == 1000
    assert evicted.count(EvictionReason.CAPACITY) == 49_000
