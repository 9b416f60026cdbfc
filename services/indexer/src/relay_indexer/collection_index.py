"""The collection directory in RocksDB: which DIDs hold records in which collection.

Writes go through an `IndexBatch`: it reads through its own pending changes (so several events
for one DID in a batch see each other) and lands as one RocksDB WriteBatch, atomically. The
counting rules are in `collection_counts`, the key layout in `collection_keys`.

Visibility: a DID is *hidden* while its account is not active (taken down, suspended,
deactivated, ...): its listing keys are removed but its per-collection entries are kept, so
reactivation restores it exactly. Account deletion removes everything about the DID.

Idempotence: every DID remembers the rev of the last commit applied; a commit at or below it is
skipped, so redelivery of VERIFIED messages (at-least-once) cannot double-count.

Single writer: an instance is used from one event loop thread, and every read-modify-write (an
`IndexBatch` from first read to `commit()`, `import_listing`, `settle_described`) runs without an
`await` in between, so live ingest and backfill never interleave inside one; reads may interleave
with batches (RocksDB reads see only committed batches).

Backfill writes (`import_listing`, `settle_described`) are synced to the WAL before they return:
the backfill commits its cursor only after that, so a crash never leaves a cursor ahead of data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay_core.syntax import Did, Nsid
from rocksdict import Options, Rdict, WriteBatch, WriteOptions

from relay_indexer import collection_counts as counts
from relay_indexer.collection_keys import (
    CHECK_PREFIX,
    LISTING_PREFIX,
    DidState,
    Entry,
    check_key,
    decode_entry,
    decode_state,
    did_checks_prefix,
    did_entries_prefix,
    encode_entry,
    encode_state,
    entry_key,
    listing_key,
    listing_prefix,
    listing_seek_after,
    split_check_key,
    split_entry_key,
    split_listing_key,
    state_key,
)

__all__ = ["CollectionIndex", "DescribedRepo", "IndexBatch", "ListingPage", "PendingCheck"]


@dataclass(frozen=True, slots=True)
class ListingPage:
    """DIDs in key order; `more` is true when at least one DID follows the last one."""

    dids: list[Did]
    more: bool


@dataclass(frozen=True, slots=True)
class DescribedRepo:
    """A describeRepo answer for `did`; `rev_before` is the DID's applied rev when asked."""

    did: Did
    collections: frozenset[Nsid]
    rev_before: str


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A (DID, collection) pair whose count is undecided; collection None = the whole repo."""

    did: Did
    collection: Nsid | None


class CollectionIndex:
    """RocksDB-backed collection ↔ DID directory."""

    def __init__(self, path: str | Path) -> None:
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        self._db = Rdict(str(path), options)

    def close(self) -> None:
        self._db.close()

    def _multi_get(self, keys: list[bytes]) -> list[bytes | None]:
        # rocksdict's stubs type keys as a list of any scalar; a list of bytes is one of those.
        if not keys:
            return []
        values: Any = self._db.get(list[Any](keys))
        return list(values)

    def _write_synced(self, wb: WriteBatch) -> None:
        options = WriteOptions()
        options.sync = True
        self._db.write(wb, options)

    def batch(self) -> IndexBatch:
        """Start a batch of changes; nothing is visible until `IndexBatch.commit()`."""
        return IndexBatch(self._db)

    def list_repos(self, collection: Nsid, *, after: Did | None, limit: int) -> ListingPage:
        """Up to `limit` visible DIDs holding records in `collection`, strictly after `after`."""
        prefix = listing_prefix(collection)
        it = self._db.iter()
        it.seek(listing_seek_after(collection, after) if after else prefix)
        dids: list[Did] = []
        while it.valid():
            key: bytes = it.key()
            if not key.startswith(prefix):
                break
            if len(dids) == limit:
                return ListingPage(dids, more=True)
            dids.append(split_listing_key(key)[1])
            it.next()
        return ListingPage(dids, more=False)

    def collections_of(self, did: Did) -> dict[Nsid, Entry]:
        """Every collection the index has an entry for, listed or not (hidden DIDs included)."""
        return {split_entry_key(k)[1]: decode_entry(v) for k, v in _scan(self._db, did_entries_prefix(did))}

    def state_of(self, did: Did) -> DidState | None:
        raw = self._db.get(state_key(did))
        return decode_state(raw) if raw is not None else None

    def pending_checks(self, *, limit: int, after: Did | None = None) -> list[PendingCheck]:
        """Pairs waiting for a repo check, in DID order (for the backfill crawler to settle),
        starting after every check of DID `after`."""
        checks: list[PendingCheck] = []
        start = did_checks_prefix(after)[:-1] + b"\x01" if after else CHECK_PREFIX
        for key, _ in _scan(self._db, CHECK_PREFIX, start=start):
            if len(checks) == limit:
                break
            did, collection = split_check_key(key)
            checks.append(PendingCheck(did, collection))
        return checks

    def known_collections(self) -> list[Nsid]:
        """Every collection with at least one visible DID, in order: one seek per collection."""
        found: list[Nsid] = []
        it = self._db.iter()
        it.seek(LISTING_PREFIX)
        while it.valid():
            key: bytes = it.key()
            if not key.startswith(LISTING_PREFIX):
                break
            collection = split_listing_key(key)[0]
            found.append(collection)
            it.seek(listing_prefix(collection)[:-1] + b"\x01")
        return found

    def import_listing(self, collection: Nsid, dids: Sequence[Did]) -> int:
        """Backfill saw `dids` listed under `collection` by another relay: each holds at least one
        record there (`collection_counts.after_presence` with no count), unless the DID is exact,
        whose own counts beat another relay's listing. Never removes; idempotent. Synced.

        The bulk twin of `IndexBatch.import_presence` (two multi-gets and only the changed keys
        written, instead of two point reads per DID). Returns how many entries changed.
        """
        entry_keys = [entry_key(d, collection) for d in dids]
        states = self._multi_get([state_key(d) for d in dids])
        entries = self._multi_get(entry_keys)
        wb = WriteBatch(raw_mode=True)
        changed = 0
        for did, raw_state, key, raw_entry in zip(dids, states, entry_keys, entries, strict=True):
            state = decode_state(raw_state) if raw_state is not None else None
            if state is not None and state.exact:
                continue
            entry = decode_entry(raw_entry) if raw_entry is not None else None
            outcome = counts.after_presence(entry, present=True, count=None)
            if outcome.entry == entry or outcome.entry is None:
                continue
            wb.put(key, encode_entry(outcome.entry))
            if state is None or not state.hidden:
                wb.put(listing_key(collection, did), b"")
            changed += 1
        if changed:
            self._write_synced(wb)
        return changed

    def settle_described(self, answers: Sequence[DescribedRepo]) -> int:
        """Record describeRepo answers: each DID holds records in exactly its `collections` (no
        counts, so the DID stays inexact) and its pending checks are settled. Synced.

        An answer is dropped when the DID's last applied rev changed since the request was sent
        (`rev_before`): live ingest applied a commit we cannot order against the answer, and
        settling could remove a collection that commit just created. Returns answers applied.
        """
        batch = IndexBatch(self._db)
        applied = 0
        for answer in answers:
            state = self.state_of(answer.did)
            if (state.rev if state else "") != answer.rev_before:
                continue
            batch.settle(answer.did, dict.fromkeys(answer.collections), complete=False)
            applied += 1
        batch.commit(sync=True)
        return applied


def _scan(db: Rdict, prefix: bytes, *, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
    it = db.iter()
    it.seek(start or prefix)
    while it.valid():
        key: bytes = it.key()
        if not key.startswith(prefix):
            return
        yield key, it.value()
        it.next()


class IndexBatch:
    """Changes to the index that land together. Methods are applied in call order."""

    def __init__(self, db: Rdict) -> None:
        self._db = db
        self._states: dict[Did, DidState | None] = {}
        self._entries: dict[tuple[Did, Nsid], Entry | None] = {}
        self._checks: dict[bytes, bool] = {}
        # Entries whose listing key must be rewritten at commit (value changed or DID re-hidden).
        self._dirty_listing: set[tuple[Did, Nsid]] = set()
        self.ops_applied = 0
        self.commits_skipped = 0

    # -- reads through the batch -------------------------------------------------------------

    def _state(self, did: Did) -> DidState | None:
        if did not in self._states:
            raw = self._db.get(state_key(did))
            self._states[did] = decode_state(raw) if raw is not None else None
        return self._states[did]

    def _entry(self, did: Did, collection: Nsid) -> Entry | None:
        key = (did, collection)
        if key not in self._entries:
            raw = self._db.get(entry_key(did, collection))
            self._entries[key] = decode_entry(raw) if raw is not None else None
        return self._entries[key]

    def _collections(self, did: Did) -> set[Nsid]:
        stored = {split_entry_key(k)[1] for k, _ in _scan(self._db, did_entries_prefix(did))}
        pending = {c for (d, c) in self._entries if d == did}
        return {c for c in stored | pending if self._entry(did, c) is not None}

    def _set_entry(self, did: Did, collection: Nsid, entry: Entry | None) -> None:
        self._entries[(did, collection)] = entry
        self._dirty_listing.add((did, collection))

    def _set_check(self, did: Did, collection: Nsid | None, pending: bool) -> None:
        self._checks[check_key(did, collection)] = pending

    def _clear_checks(self, did: Did) -> None:
        prefix = did_checks_prefix(did)
        stored = [key for key, _ in _scan(self._db, prefix)]
        for key in [*stored, *(k for k in self._checks if k.startswith(prefix))]:
            self._checks[key] = False

    # -- commit events ------------------------------------------------------------------------

    def begin_commit(self, did: Did, rev: str, *, first_commit: bool) -> bool:
        """Start applying a verified commit. Returns False when it was already applied.

        `first_commit` (the commit has no `since`): the repo was empty before, so from here on
        every count of this DID is exact.
        """
        state = self._state(did) or DidState()
        if state.rev and rev <= state.rev:
            self.commits_skipped += 1
            return False
        exact = state.exact or first_commit
        if first_commit and not state.exact:
            # Anything left from before the repo's (re)creation is stale.
            for collection in self._collections(did):
                self._set_entry(did, collection, None)
            self._clear_checks(did)
        self._states[did] = DidState(exact=exact, hidden=state.hidden, rev=rev)
        return True

    def record_op(self, did: Did, collection: Nsid, action: str) -> None:
        """Apply one op of the commit opened by `begin_commit` ("create", "update", "delete")."""
        state = self._state(did) or DidState()
        entry = self._entry(did, collection)
        if action == "create":
            outcome = counts.after_create(entry, exact=state.exact)
        elif action == "update":
            outcome = counts.after_update(entry, exact=state.exact)
        elif action == "delete":
            outcome = counts.after_delete(entry, exact=state.exact)
        else:
            raise ValueError(f"unknown op action {action!r}")
        if outcome.entry != entry:
            self._set_entry(did, collection, outcome.entry)
        if outcome.check:
            self._set_check(did, collection, True)
        self.ops_applied += 1

    def reset_repo(self, did: Did, rev: str) -> None:
        """A #sync replaced the repo wholesale: counts are now only "maybe", check the whole repo."""
        state = self._state(did) or DidState()
        if state.rev and rev <= state.rev:
            self.commits_skipped += 1
            return
        for collection in self._collections(did):
            entry = self._entry(did, collection)
            assert entry is not None
            self._set_entry(did, collection, Entry(listed=entry.listed, low=0))
        self._states[did] = DidState(exact=False, hidden=state.hidden, rev=rev)
        self._set_check(did, None, True)

    # -- account lifecycle --------------------------------------------------------------------

    def set_hidden(self, did: Did, hidden: bool) -> None:
        """Hide (inactive account) or show (active again) the DID in every listing it is in."""
        state = self._state(did) or DidState()
        if state.hidden == hidden:
            return
        self._states[did] = DidState(exact=state.exact, hidden=hidden, rev=state.rev)
        for collection in self._collections(did):
            self._dirty_listing.add((did, collection))

    def remove_account(self, did: Did) -> None:
        """The account was deleted: forget the DID entirely."""
        for collection in self._collections(did):
            self._set_entry(did, collection, None)
        self._clear_checks(did)
        self._states[did] = None

    # -- repo checks and imports --------------------------------------------------------------

    def settle(self, did: Did, present: Mapping[Nsid, int | None], *, complete: bool) -> None:
        """Record the answer of a repo check: `present` maps each collection the repo holds to its
        record count (None when unknown). `complete` means a full repo walk: every count is given
        and collections not named hold nothing, so the DID becomes exact."""
        state = self._state(did) or DidState()
        for collection in self._collections(did) | set(present):
            outcome = counts.after_presence(
                self._entry(did, collection), present=collection in present, count=present.get(collection)
            )
            self._set_entry(did, collection, outcome.entry)
        self._clear_checks(did)
        self._states[did] = DidState(exact=complete, hidden=state.hidden, rev=state.rev)

    def import_presence(self, did: Did, collection: Nsid) -> None:
        """Backfill saw the DID listed under `collection` elsewhere: at least one record there.

        Ignored for exact DIDs, whose own counts are better than another relay's listing."""
        state = self._state(did) or DidState()
        if state.exact:
            return
        entry = self._entry(did, collection)
        outcome = counts.after_presence(entry, present=True, count=None)
        if outcome.entry != entry:
            self._set_entry(did, collection, outcome.entry)
        if self._states.get(did) is None:
            self._states[did] = state

    # -- landing ------------------------------------------------------------------------------

    def commit(self, *, sync: bool = False) -> None:
        """Write every change as one atomic RocksDB batch (`sync`: fsync the WAL first)."""
        wb = WriteBatch(raw_mode=True)
        for did, state in self._states.items():
            if state is None:
                wb.delete(state_key(did))
            else:
                wb.put(state_key(did), encode_state(state))
        for (did, collection), entry in self._entries.items():
            if (did, collection) not in self._dirty_listing:
                continue
            if entry is None:
                wb.delete(entry_key(did, collection))
            else:
                wb.put(entry_key(did, collection), encode_entry(entry))
        for did, collection in self._dirty_listing:
            entry = self._entry(did, collection)
            state = self._states.get(did)
            hidden = state is not None and state.hidden
            visible = isinstance(entry, Entry) and entry.listed and not hidden
            if visible:
                wb.put(listing_key(collection, did), b"")
            else:
                wb.delete(listing_key(collection, did))
        for key, pending in self._checks.items():
            if pending:
                wb.put(key, b"")
            else:
                wb.delete(key)
        if sync:
            options = WriteOptions()
            options.sync = True
            self._db.write(wb, options)
        else:
            self._db.write(wb)
        self._states.clear()
        self._entries.clear()
        self._checks.clear()
        self._dirty_listing.clear()
