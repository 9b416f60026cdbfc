"""Applies batches of verified events to the indexer's state.

Per batch: one Postgres round trip for #account accounts (created if new; the upstream status of
an existing one is the validator's to write), one for #identity handles, then one
atomic RocksDB WriteBatch for every commit op and visibility change, in event order. The repo
heads (rev, commit and data CIDs) are not written here: the validator persists them through
`UpsertAccounts` before it acks, because the next commit must chain from them.

Redelivery is harmless: the Postgres writes only create rows or set handles (last value wins),
and the collection directory skips commits at or below a DID's last applied rev.

Operator moderation goes through `set_local_status` on the same object, under the same lock as
`apply`, so a takedown cannot interleave with a batch that read the account's old local status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from relay_core.syntax import Did

from relay_indexer.account import Account, AccountStatus, effective_status, hides_records
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.repo_store import RepoStore
from relay_indexer.verified_event import AccountEvent, CommitEvent, IdentityEvent, IndexedEvent, SyncEvent

__all__ = ["ApplyResult", "EventApplier"]


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Counts for one applied batch (they feed the service's metrics)."""

    events: int
    ops_applied: int
    commits_skipped: int


class EventApplier:
    """Turns verified events into Postgres account state and collection-directory entries."""

    def __init__(self, index: CollectionIndex, repos: RepoStore) -> None:
        self._index = index
        self._repos = repos
        self._lock = asyncio.Lock()

    async def apply(self, events: Sequence[IndexedEvent]) -> ApplyResult:
        """Apply a batch in order. Either every RocksDB change lands or none does."""
        async with self._lock:
            statuses = [
                (e.did, e.host, e.status) for e in events if isinstance(e, AccountEvent) and not e.relay_made
            ]
            local = await self._repos.add_accounts_from_events(statuses) if statuses else {}
            handles = [(e.did, e.handle) for e in events if isinstance(e, IdentityEvent)]
            if handles:
                await self._repos.set_handles(handles)

            batch = self._index.batch()
            for event in events:
                if isinstance(event, CommitEvent):
                    if batch.begin_commit(event.did, event.rev, first_commit=not event.since):
                        for op in event.ops:
                            batch.record_op(event.did, op.collection, op.action)
                elif isinstance(event, SyncEvent):
                    batch.reset_repo(event.did, event.rev)
                elif isinstance(event, AccountEvent) and not event.relay_made:
                    if event.status is AccountStatus.DELETED:
                        batch.remove_account(event.did)
                    else:
                        status = effective_status(local.get(event.did, AccountStatus.ACTIVE), event.status)
                        batch.set_hidden(event.did, hides_records(status))
            batch.commit()
            return ApplyResult(len(events), batch.ops_applied, batch.commits_skipped)

    async def set_local_status(self, did: Did, status: AccountStatus, reason: str | None) -> Account:
        """Record an operator's takedown / suspension / reversal and hide or show the DID."""
        async with self._lock:
            account = await self._repos.set_local_status(did, status, reason)
            batch = self._index.batch()
            batch.set_hidden(did, hides_records(account.status))
            batch.commit()
            return account
