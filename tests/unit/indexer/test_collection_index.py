"""The RocksDB collection directory, on a real RocksDB in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_core.syntax import Did, Nsid
from relay_indexer.collection_index import CollectionIndex, PendingCheck

POST = Nsid("app.bsky.feed.post")
LIKE = Nsid("app.bsky.feed.like")
CUSTOM = Nsid("com.example.fancy.thing")
A = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
B = Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
C = Did("did:web:c.example.com")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[CollectionIndex]:
    idx = CollectionIndex(tmp_path / "collections")
    try:
        yield idx
    finally:
        idx.close()


def commit(index: CollectionIndex, did: Did, rev: str, *ops: tuple[str, Nsid], since: str = "x") -> None:
    batch = index.batch()
    if batch.begin_commit(did, rev, first_commit=not since):
        for action, collection in ops:
            batch.record_op(did, collection, action)
    batch.commit()


def listed(index: CollectionIndex, collection: Nsid) -> list[Did]:
    return index.list_repos(collection, after=None, limit=10_000).dids


def test_exact_did_leaves_a_collection_with_its_last_record(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), ("create", POST), ("create", LIKE), since="")
    assert listed(index, POST) == [A] and listed(index, LIKE) == [A]
    commit(index, A, "r02", ("delete", POST))
    assert listed(index, POST) == [A]
    commit(index, A, "r03", ("delete", POST))
    assert listed(index, POST) == []
    assert listed(index, LIKE) == [A]
    assert set(index.collections_of(A)) == {LIKE}
    assert index.pending_checks(limit=10) == []


def test_inexact_did_is_kept_and_queued_when_its_bound_reaches_zero(index: CollectionIndex) -> None:
    commit(index, B, "r05", ("create", POST))  # first seen mid-life: may have older posts
    commit(index, B, "r06", ("delete", POST))
    assert listed(index, POST) == [B]
    assert index.pending_checks(limit=10) == [PendingCheck(B, POST)]
    batch = index.batch()
    batch.settle(B, {LIKE: None}, complete=False)  # the repo check: no posts, some likes
    batch.commit()
    assert listed(index, POST) == []
    assert listed(index, LIKE) == [B]
    assert index.pending_checks(limit=10) == []
    assert index.state_of(B) is not None and not index.state_of(B).exact  # type: ignore[union-attr]


def test_inexact_delete_of_an_unseen_record_does_not_list(index: CollectionIndex) -> None:
    commit(index, B, "r05", ("delete", CUSTOM))
    assert listed(index, CUSTOM) == []
    assert index.pending_checks(limit=10) == [PendingCheck(B, CUSTOM)]


def test_redelivered_commits_are_not_counted_twice(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), since="")
    commit(index, A, "r02", ("create", POST))
    commit(index, A, "r02", ("create", POST))  # redelivery
    commit(index, A, "r01", ("create", POST), since="")  # older redelivery
    commit(index, A, "r03", ("delete", POST))
    commit(index, A, "r04", ("delete", POST))
    assert listed(index, POST) == []


def test_events_in_one_batch_see_each_other(index: CollectionIndex) -> None:
    batch = index.batch()
    assert batch.begin_commit(A, "r01", first_commit=True)
    batch.record_op(A, POST, "create")
    assert batch.begin_commit(A, "r02", first_commit=False)
    batch.record_op(A, POST, "delete")
    assert not batch.begin_commit(A, "r02", first_commit=False)
    assert batch.begin_commit(B, "r01", first_commit=True)
    batch.record_op(B, POST, "create")
    assert listed(index, POST) == []  # nothing lands before commit()
    batch.commit()
    assert listed(index, POST) == [B]


def test_hidden_dids_are_kept_but_not_listed(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), since="")
    commit(index, B, "r01", ("create", POST), since="")
    batch = index.batch()
    batch.set_hidden(A, True)
    batch.commit()
    assert listed(index, POST) == [B]
    commit(index, A, "r02", ("create", CUSTOM))  # still indexed while hidden
    assert listed(index, CUSTOM) == []
    batch = index.batch()
    batch.set_hidden(A, False)
    batch.commit()
    assert listed(index, POST) == [A, B]
    assert listed(index, CUSTOM) == [A]


def test_hiding_a_did_never_seen_hides_its_first_records(index: CollectionIndex) -> None:
    batch = index.batch()
    batch.set_hidden(C, True)  # taken down before its first event
    batch.commit()
    commit(index, C, "r01", ("create", POST), since="")
    assert listed(index, POST) == []


def test_account_deletion_removes_everything(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), ("create", LIKE), ("create", CUSTOM))
    commit(index, A, "r02", ("delete", LIKE))  # leaves a pending check behind
    batch = index.batch()
    batch.remove_account(A)
    batch.commit()
    for collection in (POST, LIKE, CUSTOM):
        assert listed(index, collection) == []
    assert index.collections_of(A) == {}
    assert index.state_of(A) is None
    assert index.pending_checks(limit=10) == []


def test_sync_makes_counts_uncertain_until_a_full_check(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), ("create", LIKE), since="")
    batch = index.batch()
    batch.reset_repo(A, "r09")
    batch.commit()
    assert listed(index, POST) == [A]
    assert index.pending_checks(limit=10) == [PendingCheck(A, None)]
    commit(index, A, "r10", ("delete", POST))
    assert listed(index, POST) == [A]  # undecided: kept
    batch = index.batch()
    batch.settle(A, {LIKE: 3}, complete=True)
    batch.commit()
    assert listed(index, POST) == [] and listed(index, LIKE) == [A]
    assert index.state_of(A).exact  # type: ignore[union-attr]
    commit(index, A, "r11", ("delete", LIKE), ("delete", LIKE))
    assert listed(index, LIKE) == [A]
    commit(index, A, "r12", ("delete", LIKE))
    assert listed(index, LIKE) == []


def test_first_commit_discards_what_an_old_repo_left(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST))
    commit(index, A, "r02", ("create", LIKE), since="")  # repo recreated from scratch
    assert listed(index, POST) == []
    assert listed(index, LIKE) == [A]


def test_import_presence_lists_inexact_dids_only(index: CollectionIndex) -> None:
    commit(index, A, "r01", ("create", POST), since="")
    batch = index.batch()
    batch.import_presence(A, LIKE)  # exact: our own counts win
    batch.import_presence(B, LIKE)
    batch.commit()
    assert listed(index, LIKE) == [B]
    commit(index, B, "r01", ("delete", LIKE))
    assert listed(index, LIKE) == [B]  # imported count unknown: kept, checked
    assert PendingCheck(B, LIKE) in index.pending_checks(limit=10)


def test_pages_continue_strictly_after_the_cursor(index: CollectionIndex) -> None:
    dids = [Did(f"did:plc:{chr(ord('a') + i) * 24}") for i in range(7)]
    for did in dids:
        commit(index, did, "r01", ("create", CUSTOM), since="")
    commit(index, A, "r02", ("create", POST))  # a neighbouring collection must not leak in
    page = index.list_repos(CUSTOM, after=None, limit=3)
    assert page.dids == dids[:3] and page.more
    page = index.list_repos(CUSTOM, after=page.dids[-1], limit=3)
    assert page.dids == dids[3:6] and page.more
    page = index.list_repos(CUSTOM, after=page.dids[-1], limit=3)
    assert page.dids == dids[6:] and not page.more
    exact_fit = index.list_repos(CUSTOM, after=dids[3], limit=3)
    assert exact_fit.dids == dids[4:] and not exact_fit.more


def test_state_survives_reopening(tmp_path: Path) -> None:
    idx = CollectionIndex(tmp_path / "db")
    commit(idx, A, "r01", ("create", POST), since="")
    idx.close()
    idx = CollectionIndex(tmp_path / "db")
    try:
        assert listed(idx, POST) == [A]
        commit(idx, A, "r01", ("create", POST))  # the applied rev survived too
        commit(idx, A, "r02", ("delete", POST))
        assert listed(idx, POST) == []
    finally:
        idx.close()
