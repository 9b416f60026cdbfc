"""A bounded LRU cache whose entries also expire: the resolver's only long-lived state.

The production relay this project replaces leaked memory in its identity path because its caches
had no upper bound. Here every entry counts against `max_entries`, the least recently used one is
evicted first, and an expired entry is dropped as soon as it is looked at. Each entry carries its
own TTL so successes and failures can live for different times (a not-found answer should be
re-checked far sooner than a good document).

The class is synchronous and takes `now` from an injected clock, so its rules are tested without
an event loop or sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = ["CacheLookup", "EvictionReason", "TtlLruCache"]

K = TypeVar("K")
V = TypeVar("V")


class EvictionReason(StrEnum):
    """Why an entry left the cache (a bounded metric label)."""

    CAPACITY = "capacity"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"


class CacheLookup(StrEnum):
    """The result of a lookup, for the hit/miss counters."""

    HIT = "hit"
    MISS = "miss"
    EXPIRED = "expired"


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


class TtlLruCache(Generic[K, V]):
    """LRU cache with a hard entry cap and a per-entry time to live.

    Args:
        max_entries: the cap; inserting beyond it evicts the least recently used entry.
        clock: monotonic seconds; injected so tests control time.
        on_evict: called once per entry that leaves the cache other than by being replaced.
    """

    def __init__(
        self,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[EvictionReason], None] | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._on_evict = on_evict
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def max_entries(self) -> int:
        return self._max_entries

    def lookup(self, key: K) -> tuple[CacheLookup, V | None]:
        """Return the live value for `key` and mark it recently used.

        An expired entry is removed on the spot (and reported as `EXPIRED`), so stale entries
        never hold memory past the next time someone asks for them.
        """
        entry = self._entries.get(key)
        if entry is None:
            return CacheLookup.MISS, None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            self._evicted(EvictionReason.EXPIRED)
            return CacheLookup.EXPIRED, None
        self._entries.move_to_end(key)
        return CacheLookup.HIT, entry.value

    def get(self, key: K) -> V | None:
        """The live value for `key`, or None."""
        return self.lookup(key)[1]

    def put(self, key: K, value: V, ttl_seconds: float) -> None:
        """Insert or replace `key`, evicting least recently used entries to stay within the cap."""
        if ttl_seconds <= 0:
            self.pop(key)
            return
        entry = _Entry(value, self._clock() + ttl_seconds)
        if key in self._entries:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            return
        self._entries[key] = entry
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
            self._evicted(EvictionReason.CAPACITY)

    def pop(self, key: K) -> bool:
        """Drop `key`; True when it was present (expired or not)."""
        if self._entries.pop(key, None) is None:
            return False
        self._evicted(EvictionReason.INVALIDATED)
        return True

    def purge_expired(self, limit: int = 1000) -> int:
        """Drop up to `limit` expired entries from the cold end; returns how many went.

        Expiry is otherwise lazy; a periodic sweep keeps entries that nobody asks for again from
        sitting in memory until capacity pushes them out. It looks at no more than `limit`
        entries from the least recently used end, where such entries collect, so each sweep is
        bounded work rather than a full scan.
        """
        now = self._clock()
        removed = 0
        for key in list(self._iter_cold(limit)):
            entry = self._entries[key]
            if entry.expires_at <= now:
                del self._entries[key]
                self._evicted(EvictionReason.EXPIRED)
                removed += 1
        return removed

    def _iter_cold(self, limit: int) -> list[K]:
        keys: list[K] = []
        for key in self._entries:
            if len(keys) >= limit:
                break
            keys.append(key)
        return keys

    def _evicted(self, reason: EvictionReason) -> None:
        if self._on_evict is not None:
            self._on_evict(reason)
