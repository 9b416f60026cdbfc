"""A `ResolverObserver` that keeps counts in plain dicts, so tests can assert on them."""

from __future__ import annotations

from collections import Counter

from relay_resolver.cache import CacheLookup, EvictionReason


class RecordingObserver:
    def __init__(self) -> None:
        self.lookups: Counter[CacheLookup] = Counter()
        self.evictions: Counter[EvictionReason] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.size = 0
        self.max_in_flight = 0

    def cache_lookup(self, result: CacheLookup) -> None:
        self.lookups[result] += 1

    def cache_evicted(self, reason: EvictionReason) -> None:
        self.evictions[reason] += 1

    def cache_size(self, entries: int) -> None:
        self.size = entries

    def resolved(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def fetches_in_flight(self, count: int) -> None:
        self.max_in_flight = max(self.max_in_flight, count)

    def http_request(self, source: str, result: str, seconds: float) -> None:
        self.requests[(source, result)] += 1
