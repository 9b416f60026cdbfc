"""One batch of raw frames through `judge`, with state and identities gathered in bulk.

Per batch, in two phases. `judge_and_publish`: one `GetAccounts` for the DIDs not in the state
cache, one `ResolveDids` for DIDs not in the identity cache and one `fresh` `ResolveDids` for DIDs
with an `#identity` event (concurrently when both), one `GetHost` per host with new accounts
(cached), with a verify pool one round trip that verifies the commits and syncs in worker processes
(`precomputed`), then `judge` per event in order and one pipelined publish of every accepted event;
the state cache then holds the batch's new states, so the next batch can be judged while this one
is made durable. `persist`: one `UpsertAccounts` for every changed account; only then does the
caller ack the raw frames. A failed publish changes no cache; a failed `persist` (or `forget`)
drops the batch's states from the cache, so a retry (or a restart) re-judges against the durable
state and republishes with the same msg ids (deduplicated by JetStream).

An `#identity` event ends a batch early when its DID has earlier events in it (see
`judge_and_publish`).

Rare paths cost one extra call each: a fresh re-resolution after a signature or host mismatch
(at most once per DID per batch, and not when the identity was resolved moments ago), and a
`KeyHistory` when a did:plc commit fails even with the fresh key (the validator is behind a key
rotation; the history then stays with the cached identity).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from relay_core.errors import InvalidSyntax
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import CommitEvent, IdentityEvent, SyncEvent
from relay_core.keys import PublicKey
from relay_core.syntax.did import Did, parse_relay_did

from relay_validator import metrics
from relay_validator.account_state import AccountState
from relay_validator.account_writer import AccountWriter
from relay_validator.decode import RelayedEvent, decode_event
from relay_validator.drop_reason import DropReason
from relay_validator.identity import AccountIdentity, IdentityFailure
from relay_validator.indexer_client import AccountStore, HostQuota
from relay_validator.judge import Context, event_did, judge
from relay_validator.lru import ExpiringLru
from relay_validator.precomputed import Precomputed, from_outcome
from relay_validator.raw_frames import RawInput
from relay_validator.resolver_client import IdentitySource
from relay_validator.state_cache import ABSENT, StateCache
from relay_validator.verdict import Accept, AwaitIdentity, Drop, RefreshIdentity
from relay_validator.verified_publisher import Outgoing, VerifiedPublisher
from relay_validator.verify_pool import VerifyPool
from relay_validator.verify_worker import Job

__all__ = ["CachePolicy", "Item", "Judged", "Validation", "decode_item"]

logger = logging.getLogger(__name__)
_make_outgoing = trusted_constructor(Outgoing)
"""Once per published event; the fields come from a checked frame and a verdict."""


@dataclass(frozen=True, slots=True)
class Item:
    """One RAW_FRAMES message: its raw frame (None if the payload was garbage) and decode result."""

    raw: RawInput | None
    decoded: RelayedEvent | Drop


def decode_item(raw: RawInput | None) -> Item:
    if raw is None:
        return Item(None, Drop(DropReason.BAD_RAW_FRAME, "payload is not a RawFrame"))
    return Item(raw, decode_event(raw.frame))


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    account_entries: int = 200_000
    account_ttl_seconds: float = 10.0
    """How long a cached account state is trusted: bounds how late a local takedown is seen."""
    identity_entries: int = 200_000
    identity_ttl_seconds: float = 600.0
    identity_refresh_min_age_seconds: float = 2.0
    """An identity resolved more recently than this counts as fresh (no refresh on mismatch)."""
    host_quota_ttl_seconds: float = 10.0


@dataclass(slots=True, kw_only=True)
class Judged:
    """A judged and published prefix of a batch whose account states are not durable yet."""

    done: int
    """Leading items judged (published or dropped)."""
    waiting: bool
    """Stopped at an event whose identity could not be resolved: retry the rest later."""
    changed: dict[Did, AccountState]
    created: Counter[str]
    outgoing: list[Outgoing]
    drops: list[tuple[Item, Drop]]
    earlier_keys: int


class Validation:
    """Caches and clients shared by every partition of this replica."""

    def __init__(
        self,
        *,
        accounts: AccountStore,
        identities: IdentitySource,
        publisher: VerifiedPublisher,
        policy: CachePolicy,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        verifier: VerifyPool | None = None,
    ) -> None:
        self._accounts = accounts
        self._writer = AccountWriter(accounts)
        self._verifier = verifier
        self._identities = identities
        self._publisher = publisher
        self._policy = policy
        self._clock_us = clock_us
        self._states = StateCache(policy.account_entries, policy.account_ttl_seconds)
        """Also holds `ABSENT` for DIDs the indexer does not know, so new accounts are not
        re-queried per batch."""
        self._idents: ExpiringLru[Did, AccountIdentity | IdentityFailure] = ExpiringLru(
            policy.identity_entries, policy.identity_ttl_seconds
        )
        self._quotas: ExpiringLru[str, HostQuota | None] = ExpiringLru(4096, policy.host_quota_ttl_seconds)
        self._unsettled: dict[Did, AccountState] = {}
        """States published but not yet durable: read before the cache and the indexer, which
        (cache entry expired) would answer the state from before them."""
        self.drops: Counter[str] = Counter()
        self.verified = 0

    async def _load_states(self, dids: set[Did]) -> dict[Did, AccountState | None]:
        out: dict[Did, AccountState | None] = {}
        missing = []
        for did in dids:
            cached = self._unsettled.get(did) or self._states.get(did)
            if cached is None:
                missing.append(did)
            else:
                out[did] = cached if isinstance(cached, AccountState) else None
        metrics.CACHE_LOOKUPS_TOTAL.labels("account", "hit").inc(len(out))
        if missing:
            metrics.CACHE_LOOKUPS_TOTAL.labels("account", "miss").inc(len(missing))
            loaded = await self._accounts.get_accounts(missing)
            for did in missing:
                state = loaded.get(did)
                self._states.put(did, state if state is not None else ABSENT)
                out[did] = state
        return out

    async def _load_identities(
        self, dids: set[Did], purge: list[Did]
    ) -> dict[Did, AccountIdentity | IdentityFailure]:
        """Cached identities for `dids`, the misses resolved, and `purge` (DIDs with an `#identity`
        event) resolved fresh. A fresh resolution supersedes the resolver's cached entry and any
        fetch already running, as `Invalidate` would, in one round trip instead of two."""
        if purge:
            self._idents.discard(purge)
            metrics.IDENTITY_REFRESHES_TOTAL.labels("identity_event").inc(len(purge))
        out: dict[Did, AccountIdentity | IdentityFailure] = {}
        missing = []
        for did in dids:
            cached = self._idents.get(did)
            if cached is not None:
                out[did] = cached
            elif did not in purge:
                missing.append(did)
        metrics.CACHE_LOOKUPS_TOTAL.labels("identity", "hit").inc(len(out))
        if missing:
            metrics.CACHE_LOOKUPS_TOTAL.labels("identity", "miss").inc(len(missing))
        calls = []
        if purge:
            calls.append(self._identities.resolve(purge, fresh=True))
        if missing:
            calls.append(self._identities.resolve(missing, fresh=False))
        if calls:
            for resolved in await asyncio.gather(*calls):
                out.update(self._remember(resolved))
        return out

    def _remember(
        self, resolved: dict[Did, AccountIdentity | IdentityFailure]
    ) -> dict[Did, AccountIdentity | IdentityFailure]:
        for did, identity in resolved.items():
            # Retryable failures are never cached: the next batch asks again.
            if isinstance(identity, AccountIdentity) or not identity.kind.retry:
                self._idents.put(did, identity)
        return resolved

    async def _load_quotas(self, hosts: set[str]) -> None:
        for host in hosts:
            if self._quotas.get(host) is None:
                self._quotas.put(host, await self._accounts.get_host_quota(host))

    def _has_room(self, host: str, created: Counter[str]) -> bool:
        quota = self._quotas.get(host)
        if quota is None or quota.account_limit is None:
            # NOTE: an unregistered host has no limit to apply; the indexer refuses its accounts.
            return True
        return quota.account_count + created[host] < quota.account_limit

    def _is_fresh(self, identity: AccountIdentity | IdentityFailure | None, now_us: int) -> bool:
        if not isinstance(identity, AccountIdentity):
            return False
        return now_us - identity.resolved_at_us < self._policy.identity_refresh_min_age_seconds * 1e6

    async def persist(self, batch: Sequence[Judged]) -> None:
        """Make consecutive judged prefixes' account states durable in one write (each account's
        latest state; other partitions' writes of the same moment join it, `AccountWriter`), then
        count them.

        Raises:
            DependencyUnavailable: the indexer failed; every prefix's states left the cache.
        """
        merged: dict[Did, AccountState] = {}
        for judged in batch:
            merged.update(judged.changed)
        try:
            await self._writer.write(merged)
        except BaseException:
            for judged in batch:
                self.forget(judged)
            raise
        for did, state in merged.items():
            if self._unsettled.get(did) is state:
                del self._unsettled[did]
        for judged in batch:
            self._count(judged)

    def forget(self, judged: Judged) -> None:
        """Drop what `judge_and_publish` cached for a batch that will not become durable."""
        for did in judged.changed:
            self._unsettled.pop(did, None)
        self._states.discard(judged.changed)
        self._quotas.discard(judged.created)

    async def judge_and_publish(self, items: Sequence[Item]) -> Judged:
        """Judge `items` in order and publish the finished prefix; cache its new states.

        An `#identity` event whose DID has an earlier event in `items` ends the batch before it
        (`done` < `len(items)` with `waiting` false: call again with the rest at once). The
        identity purge must not reach back: those earlier events were signed under the identity
        before the change (e.g. the old key of a rotation). And since the purge reaches the
        resolver, the earlier events must be durable first, or a crash would re-judge them
        against the new identity.

        Raises:
            DependencyUnavailable: the resolver or indexer failed; no cache changed.
            nats errors: publishing failed; no cache changed (a retry republishes).
        """
        items = items[: _identity_barrier(items)]
        dids: set[Did] = set()
        purge: list[Did] = []
        for item in items:
            if isinstance(item.decoded, Drop):
                continue
            try:
                did = parse_relay_did(event_did(item.decoded))
            except InvalidSyntax:
                continue  # judge drops it with the precise reason
            dids.add(did)
            if isinstance(item.decoded, IdentityEvent) and did not in purge:
                purge.append(did)
        states = await self._load_states(dids)
        identities = await self._load_identities(dids, purge)
        fresh = set(purge)
        new_hosts = set()
        for item in items:
            item_did = _did_of(item)
            if item.raw is not None and item_did in dids and states.get(Did(item_did or "")) is None:
                new_hosts.add(item.raw.host)
        await self._load_quotas(new_hosts)

        now_us = self._clock_us()
        precomputed = await self._precompute(items, states, identities, now_us)
        working = dict(states)
        changed: dict[Did, AccountState] = {}
        created: Counter[str] = Counter()
        earlier_keys = 0
        outgoing: list[Outgoing] = []
        drops: list[tuple[Item, Drop]] = []
        done = 0
        waiting = False
        for index, item in enumerate(items):
            decoded, raw = item.decoded, item.raw
            if isinstance(decoded, Drop) or raw is None:
                drops.append(
                    (item, decoded if isinstance(decoded, Drop) else Drop(DropReason.BAD_RAW_FRAME, ""))
                )
                done += 1
                continue
            did = Did(event_did(decoded))
            while True:
                identity = identities.get(did)
                verdict = judge(
                    decoded,
                    Context(
                        host=raw.host,
                        frame=raw.frame,
                        state=working.get(did),
                        identity=identity,
                        identity_fresh=did in fresh or self._is_fresh(identity, now_us),
                        host_has_room=self._has_room(raw.host, created),
                        now_us=now_us,
                        redelivered=raw.redelivered,
                        precomputed=precomputed[index],
                    ),
                )
                if not isinstance(verdict, RefreshIdentity):
                    break
                if verdict.key_history:
                    waiting_for = await self._add_key_history(did, identities)
                    if waiting_for is not None:
                        verdict = waiting_for
                        break
                    continue
                metrics.IDENTITY_REFRESHES_TOTAL.labels(verdict.reason.value).inc()
                identities.update(self._remember(await self._identities.resolve([did], fresh=True)))
                fresh.add(did)
            if isinstance(verdict, AwaitIdentity):
                waiting = True
                metrics.IDENTITY_WAITS_TOTAL.inc()
                logger.warning(
                    "identity unavailable; partition waits",
                    extra={"did": did, "host": raw.host, "seq": raw.upstream_seq, "detail": verdict.detail},
                )
                break
            if isinstance(verdict, Accept):
                if verdict.created:
                    created[raw.host] += 1
                earlier_keys += verdict.earlier_key
            else:
                drops.append((item, verdict))
            if verdict.state is not None:
                working[did] = verdict.state
                changed[did] = verdict.state
            outgoing.extend(
                _make_outgoing(raw.host, raw.upstream_seq, raw.received_at_us, p, raw.trace)
                for p in verdict.publications
            )
            done += 1

        await self._publisher.publish(outgoing, now_us)
        self._cache_states(changed, created)
        return Judged(
            done=done,
            waiting=waiting,
            changed=changed,
            created=created,
            outgoing=outgoing,
            drops=drops,
            earlier_keys=earlier_keys,
        )

    async def _precompute(
        self,
        items: Sequence[Item],
        states: dict[Did, AccountState | None],
        identities: dict[Did, AccountIdentity | IdentityFailure],
        now_us: int,
    ) -> list[Precomputed | None]:
        """Verify the batch's commits and syncs in the worker pool, with the inputs `judge` will
        most likely use (the identity loaded for the batch, `strict` from the stored state).
        Frames `judge` drops before verifying (stale rev, wrong host) are not sent."""
        out: list[Precomputed | None] = [None] * len(items)
        if self._verifier is None:
            return out
        jobs: list[Job] = []
        slots: list[tuple[int, PublicKey, bool]] = []
        for index, item in enumerate(items):
            decoded, raw = item.decoded, item.raw
            if raw is None:
                continue
            if type(decoded) is CommitEvent:
                did = decoded.repo
            elif type(decoded) is SyncEvent:
                did = decoded.did
            else:
                continue
            identity = identities.get(did)
            if not isinstance(identity, AccountIdentity) or identity.pds_host != raw.host:
                continue
            state = states.get(did)
            strict = True
            if type(decoded) is CommitEvent:
                if state is not None and state.rev is not None and decoded.rev <= state.rev:
                    continue
                strict = (state is not None and state.data_cid is not None) or decoded.prev_data is not None
            key = identity.signing_key
            jobs.append((decoded, key.curve.value, key.compressed, strict))
            slots.append((index, key, strict))
        if len(jobs) < self._verifier.min_batch:
            return out  # cheaper inline than a round trip (see `VerifyPool`)
        outcomes = await self._verifier.run(jobs, now_us)
        if outcomes is None:
            return out  # the workers could not: judge verifies inline
        for (index, key, strict), outcome in zip(slots, outcomes, strict=True):
            out[index] = from_outcome(items[index].decoded, key, strict, now_us, outcome)
        return out

    async def _add_key_history(
        self, did: Did, identities: dict[Did, AccountIdentity | IdentityFailure]
    ) -> AwaitIdentity | None:
        """Attach the DID's key history to its identity (and cache it); AwaitIdentity when the
        resolver could not get it now (an event that may be good is never dropped for that)."""
        identity = identities[did]
        assert isinstance(identity, AccountIdentity)  # only a resolved identity fails a signature
        answer = (await self._identities.key_history([did]))[did]
        if isinstance(answer, IdentityFailure) and answer.kind.retry:
            metrics.KEY_HISTORY_LOOKUPS_TOTAL.labels("unavailable").inc()
            return AwaitIdentity(f"key history of {did}: {answer.message}")
        periods = answer if isinstance(answer, tuple) else ()
        metrics.KEY_HISTORY_LOOKUPS_TOTAL.labels("found" if periods else "none").inc()
        identities[did] = replace(identity, key_history=periods)
        self._idents.put(did, identities[did])
        return None

    def _cache_states(self, changed: dict[Did, AccountState], created: Counter[str]) -> None:
        self._unsettled.update(changed)
        for did, state in changed.items():
            # refresh, not put: our own writes must not keep a state alive past its TTL, or an
            # operator's takedown would never be re-read for a busy account.
            self._states.refresh(did, state)
        for host, count in created.items():
            quota = self._quotas.get(host)
            if quota is not None:
                self._quotas.refresh(host, HostQuota(quota.account_count + count, quota.account_limit))

    def _count(self, judged: Judged) -> None:
        """The batch is durable: count it (counting earlier would double on a retry)."""
        outgoing = judged.outgoing
        kinds = Counter(out.publication.kind.value for out in outgoing)
        for kind, count in kinds.items():
            metrics.EVENTS_VERIFIED_TOTAL.labels(kind).inc(count)
        self.verified += len(outgoing)
        metrics.EARLIER_KEY_VERIFICATIONS_TOTAL.inc(judged.earlier_keys)
        for item, drop in judged.drops:
            reason = drop.reason.value
            metrics.EVENTS_DROPPED_TOTAL.labels(reason).inc()
            self.drops[reason] += 1
            raw = item.raw
            logger.info(
                "dropped",
                extra={
                    "reason": reason,
                    "host": raw.host if raw else None,
                    "seq": raw.upstream_seq if raw else None,
                    "did": _did_of(item),
                    "detail": drop.detail[:200],
                },
            )


def _identity_barrier(items: Sequence[Item]) -> int:
    """Index of the first `#identity` event whose DID has an earlier event in `items`, else
    `len(items)`."""
    seen: set[str] = set()
    for index, item in enumerate(items):
        decoded = item.decoded
        if isinstance(decoded, Drop):
            continue
        did = event_did(decoded)
        if isinstance(decoded, IdentityEvent) and did in seen:
            return index
        seen.add(did)
    return len(items)


def _did_of(item: Item) -> str | None:
    return None if isinstance(item.decoded, Drop) else event_did(item.decoded)
