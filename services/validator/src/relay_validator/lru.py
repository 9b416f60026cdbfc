"""A bounded LRU map whose entries expire: the validator's account-state and identity caches.

Expiry is what makes the caches safe to share with other writers: an account's local status is
set by operators through the indexer, so a cached state is re-read after `ttl_seconds` and a
takedown takes effect within that bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["ExpiringLru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringLru(Generic[K, V]):
    """At most `max_entries` values, each valid for `ttl_seconds` after it was put."""

    def __init__(
        self, max_entries: int, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def refresh(self, key: K, value: V) -> None:
        """Replace a value without extending its life (our own writes must not hide a takedown)."""
        entry = self._entries.get(key)
        if entry is None:
            self.put(key, value)
        else:
            self._entries[key] = (entry[0], value)

    def discard(self, keys: Iterable[K]) -> None:
        for key in keys:
            self._entries.pop(key, None)
