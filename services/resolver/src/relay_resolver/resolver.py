"""DIDs in, identities out: the cache, single-flight and concurrency rules in one place.

Behaviours:

- A DID is parsed first (`parse_relay_did`); syntax errors and unsupported methods are answered
  at once and never cached or fetched.
- A cached answer (identity or failure) is returned while its TTL lasts: `ttl_seconds` for
  identities, `error_ttl_seconds` for not-found / tombstoned / invalid documents / refused hosts,
  `unreachable_ttl_seconds` for network trouble. `OVERLOADED` is never cached.
- Concurrent misses for one DID share one fetch (single-flight). The fetch runs as its own task, so
  a caller that gives up (a cancelled RPC) neither cancels it for the others nor loses its result.
- `fresh=True` skips the cache and starts a new fetch even if one is running, because the caller
  knows something changed (a signature failed to verify); the new fetch supersedes the old one,
  whose result is then handed to its waiters but not written to the cache.
- `invalidate` drops cache entries and detaches running fetches the same way, so an answer fetched
  before an `#identity` event can never land in the cache after it.
- At most `max_concurrent_fetches` requests are on the network; at most `max_pending_fetches`
  distinct DIDs wait for one. Beyond that a miss is answered `OVERLOADED` at once: memory stays
  bounded when the directory is slow, and the caller's retry queue takes the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from relay_core.errors import InvalidSyntax, RelayError
from relay_core.identity import parse_did_document
from relay_core.syntax import Did, did_method, parse_relay_did

from relay_resolver.cache import TtlLruCache
from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.observer import ResolverObserver
from relay_resolver.outcome import Failure, Outcome, Resolved

__all__ = ["CachePolicy", "DocumentSource", "IdentityResolver"]

logger = logging.getLogger(__name__)

_PURGE_BATCH = 64
"""Expired entries looked at per call; keeps sweeping proportional to traffic."""


class DocumentSource(Protocol):
    """Fetches the raw DID document for one method (`plc.PlcSource`, `did_web.DidWebSource`)."""

    async def fetch_document(self, did: Did) -> Mapping[str, Any]:
        """Return the decoded document or raise `ResolutionFailed`."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """How much the resolver remembers, and for how long."""

    max_entries: int = 100_000
    """Hard cap on cached DIDs (identities and failures together)."""
    ttl_seconds: float = 3600.0
    """Lifetime of a resolved identity."""
    error_ttl_seconds: float = 120.0
    """Lifetime of a definite failure (not found, tombstoned, invalid document, refused host)."""
    unreachable_ttl_seconds: float = 10.0
    """Lifetime of a network failure: short, so a recovered host is seen again quickly."""
    max_concurrent_fetches: int = 32
    """Requests on the network at once (match the HTTP pool size)."""
    max_pending_fetches: int = 4096
    """Distinct DIDs being fetched or waiting for a slot; beyond this, misses get OVERLOADED."""

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.max_concurrent_fetches < 1:
            raise ValueError("max_entries and max_concurrent_fetches must be >= 1")
        if self.max_pending_fetches < self.max_concurrent_fetches:
            raise ValueError("max_pending_fetches must be >= max_concurrent_fetches")
        if min(self.ttl_seconds, self.error_ttl_seconds, self.unreachable_ttl_seconds) < 0:
            raise ValueError("TTLs must be >= 0")


class IdentityResolver:
    """Resolves DIDs to identities through a bounded cache.

    Args:
        sources: document source per DID method (`plc`, `web`).
        policy: cache and concurrency bounds.
        observer: receives metric events.
    """

    def __init__(
        self,
        sources: Mapping[str, DocumentSource],
        policy: CachePolicy,
        observer: ResolverObserver,
    ) -> None:
        self._sources = dict(sources)
        self._policy = policy
        self._observer = observer
        self._cache: TtlLruCache[Did, Outcome] = TtlLruCache(
            policy.max_entries, on_evict=observer.cache_evicted
        )
        self._flights: dict[Did, asyncio.Task[Outcome]] = {}
        """The fetch whose result will be cached, per DID."""
        self._running: set[asyncio.Task[Outcome]] = set()
        """Every fetch task, including superseded ones: the loop only holds tasks weakly."""
        self._fetch_slots = asyncio.Semaphore(policy.max_concurrent_fetches)

    @property
    def cached_entries(self) -> int:
        return len(self._cache)

    @property
    def fetches_in_flight(self) -> int:
        return len(self._running)

    async def aclose(self) -> None:
        """Cancel fetches still running (at shutdown, once no caller waits for them)."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._flights.clear()

    async def resolve_many(self, raw_dids: Sequence[str], *, fresh: bool = False) -> list[Outcome]:
        """Resolve a batch; one outcome per input, in input order (duplicates resolve once).

        Args:
            raw_dids: DIDs as received; each is parsed here.
            fresh: skip the cache (results still refresh it).
        """
        self._cache.purge_expired(_PURGE_BATCH)
        unique: dict[str, asyncio.Future[Outcome] | Outcome] = {}
        for raw in raw_dids:
            if raw not in unique:
                unique[raw] = self._start(raw, fresh=fresh)
        pending = [value for value in unique.values() if isinstance(value, asyncio.Future)]
        if pending:
            await asyncio.wait(pending)
        results = {
            raw: value.result() if isinstance(value, asyncio.Future) else value
            for raw, value in unique.items()
        }
        self._observer.cache_size(len(self._cache))
        outcomes = [results[raw] for raw in raw_dids]
        for outcome in outcomes:
            self._observer.resolved("ok" if isinstance(outcome, Resolved) else outcome.kind.value)
        return outcomes

    async def resolve(self, raw_did: str, *, fresh: bool = False) -> Outcome:
        """Resolve one DID (a batch of one)."""
        return (await self.resolve_many([raw_did], fresh=fresh))[0]

    def invalidate(self, raw_dids: Iterable[str]) -> int:
        """Forget cached answers and detach running fetches; returns how many were cached."""
        dropped = 0
        for raw in raw_dids:
            did = Did(raw)
            dropped += self._cache.pop(did)
            self._flights.pop(did, None)
        self._observer.cache_size(len(self._cache))
        return dropped

    def _start(self, raw: str, *, fresh: bool) -> asyncio.Future[Outcome] | Outcome:
        """A finished outcome for cache hits and refusals, else a future shared by all waiters."""
        try:
            did = parse_relay_did(raw)
        except InvalidSyntax as exc:
            return Failure(FailureKind.INVALID_DID, str(exc))
        if not fresh:
            result, cached = self._cache.lookup(did)
            self._observer.cache_lookup(result)
            if cached is not None:
                return cached
            flight = self._flights.get(did)
            if flight is not None:
                # shield: a waiter being cancelled must not cancel the shared fetch.
                return asyncio.shield(flight)
        if len(self._running) >= self._policy.max_pending_fetches:
            return Failure(FailureKind.OVERLOADED, "too many DID fetches pending")
        task = asyncio.create_task(self._fetch_and_store(did), name="resolve did")
        self._flights[did] = task
        self._running.add(task)
        task.add_done_callback(self._finished)
        self._observer.fetches_in_flight(len(self._running))
        return asyncio.shield(task)

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._running.discard(task)
        self._observer.fetches_in_flight(len(self._running))

    async def _fetch_and_store(self, did: Did) -> Outcome:
        try:
            outcome = await self._fetch(did)
        except Exception as exc:
            logger.exception("unexpected error resolving DID", extra={"did": did})
            outcome = Failure(FailureKind.UNREACHABLE, f"internal error: {type(exc).__name__}")
        if self._flights.get(did) is asyncio.current_task():
            del self._flights[did]
            ttl = self._ttl_for(outcome)
            if ttl > 0:
                self._cache.put(did, outcome, ttl)
        return outcome

    async def _fetch(self, did: Did) -> Outcome:
        source = self._sources.get(did_method(did))
        if source is None:
            return Failure(FailureKind.INVALID_DID, f"DID method {did_method(did)!r} is not enabled")
        async with self._fetch_slots:
            try:
                doc = await source.fetch_document(did)
            except ResolutionFailed as exc:
                return Failure(exc.kind, str(exc))
        fetched_at_us = time.time_ns() // 1000
        try:
            identity = parse_did_document(doc, did)
        except RelayError as exc:
            return Failure(FailureKind.INVALID_DOCUMENT, f"{exc.reason}: {exc}")
        if identity.pds_endpoint is None:
            return Failure(FailureKind.INVALID_DOCUMENT, "document names no #atproto_pds service")
        return Resolved(identity, fetched_at_us)

    def _ttl_for(self, outcome: Outcome) -> float:
        if isinstance(outcome, Resolved):
            return self._policy.ttl_seconds
        if outcome.kind is FailureKind.OVERLOADED:
            return 0.0
        if outcome.kind is FailureKind.UNREACHABLE:
            return self._policy.unreachable_ttl_seconds
        return self._policy.error_ttl_seconds
