"""The collection index's backfill writes on a real RocksDB: bulk import (the same rules as the
per-DID `import_presence`), known collections, pending checks paging, describeRepo settling."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer.collection_index import CollectionIndex, DescribedRepo, PendingCheck

from tests.unit.indexer.test_collection_index import CUSTOM, LIKE, POST, A, B, C, commit, listed


@pytest.fixture
def index(tmp_path: Path) -> Iterator[CollectionIndex]:
    idx = CollectionIndex(tmp_path / "collections")
    try:
        yield idx
    finally:
        idx.close()


def _scenario(index: CollectionIndex, rng: random.Random, dids: list[Did]) -> None:
    """Random live history: first commits (exact), mid-life commits, deletes, hiding."""
    for did in dids:
        kind = rng.randrange(5)
        if kind == 0:
            continue
        since = "" if kind == 1 else "x"
        ops = [
            (rng.choice(["create", "update", "delete"]), rng.choice([POST, LIKE]))
            for _ in range(rng.randrange(1, 4))
        ]
        commit(index, did, "3l0000000000a", *ops, since=since)
        if kind == 4:
            batch = index.batch()
            batch.set_hidden(did, True)
            batch.commit()


def _view(index: CollectionIndex, dids: list[Did]) -> tuple[list[Did], list[Did], dict[Did, object]]:
    return listed(index, POST), listed(index, LIKE), {d: index.collections_of(d) for d in dids}


def test_bulk_import_matches_per_did_rules(tmp_path: Path) -> None:
    rng = random.Random(7)
    dids = [Did(f"did:plc:{i:024d}".replace("0", "a")) for i in range(300)]
    imported = rng.sample(dids, 150)
    views = []
    for name, bulk in (("bulk", True), ("single", False)):
        idx = CollectionIndex(tmp_path / name)
        _scenario(idx, random.Random(11), dids)
        if bulk:
            idx.import_listing(POST, imported)
        else:
            batch = idx.batch()
            for did in imported:
                batch.import_presence(did, POST)
            batch.commit()
        views.append(_view(idx, dids))
        idx.close()
    assert views[0] == views[1]


def test_import_never_removes_and_skips_exact_dids(index: CollectionIndex) -> None:
    commit(index, A, "3l0000000000a", ("create", LIKE), since="")  # exact: holds LIKE only
    commit(index, B, "3l0000000000a", ("delete", POST))  # inexact, unknown count: check queued
    assert index.import_listing(POST, [A, B, C]) == 2
    assert listed(index, POST) == [B, C]
    assert listed(index, LIKE) == [A]
    assert index.collections_of(B)[POST].low == 1
    assert index.pending_checks(limit=10) == [PendingCheck(B, POST)]  # import does not settle
    assert index.import_listing(POST, [A, B, C]) == 0  # idempotent


def test_import_of_hidden_did_waits_for_reactivation(index: CollectionIndex) -> None:
    commit(index, A, "3l0000000000a", ("create", LIKE))
    batch = index.batch()
    batch.set_hidden(A, True)
    batch.commit()
    index.import_listing(POST, [A])
    assert listed(index, POST) == []
    batch = index.batch()
    batch.set_hidden(A, False)
    batch.commit()
    assert listed(index, POST) == [A]


def test_known_collections(index: CollectionIndex) -> None:
    assert index.known_collections() == []
    index.import_listing(CUSTOM, [A, B])
    index.import_listing(POST, [C])
    index.import_listing(Nsid("app.bsky.feed.postgate"), [A])
    assert index.known_collections() == [Nsid("app.bsky.feed.post"), Nsid("app.bsky.feed.postgate"), CUSTOM]


def test_pending_checks_page_by_did(index: CollectionIndex) -> None:
    for did in (A, B, C):
        commit(index, did, "3l0000000000a", ("delete", POST), ("delete", LIKE))
    assert [c.did for c in index.pending_checks(limit=10)] == [A, A, B, B, C, C]
    assert [c.did for c in index.pending_checks(limit=10, after=A)] == [B, B, C, C]
    assert index.pending_checks(limit=10, after=C) == []


def test_settle_described_lists_removes_and_clears_checks(index: CollectionIndex) -> None:
    commit(index, A, "3l0000000000a", ("update", LIKE), ("delete", LIKE))  # listed, check pending
    assert listed(index, LIKE) == [A] and index.pending_checks(limit=10)
    applied = index.settle_described([DescribedRepo(A, frozenset({POST, CUSTOM}), "3l0000000000a")])
    assert applied == 1
    assert (listed(index, POST), listed(index, LIKE), listed(index, CUSTOM)) == ([A], [], [A])
    assert index.pending_checks(limit=10) == []
    assert not index.state_of(A).exact  # describeRepo gives presence, not counts


def test_settle_dropped_when_live_ingest_moved_on(index: CollectionIndex) -> None:
    commit(index, A, "3l0000000000a", ("update", LIKE), ("delete", LIKE))
    asked_at = index.state_of(A).rev
    commit(index, A, "3l0000000000b", ("create", CUSTOM))  # lands while describeRepo is in flight
    assert index.settle_described([DescribedRepo(A, frozenset({POST}), asked_at)]) == 0
    assert listed(index, CUSTOM) == [A] and listed(index, LIKE) == [A]
    assert index.pending_checks(limit=10) == [PendingCheck(A, LIKE)]


def test_settle_unknown_did(index: CollectionIndex) -> None:
    assert index.settle_described([DescribedRepo(B, frozenset({POST}), "")]) == 1
    assert listed(index, POST) == [B]
