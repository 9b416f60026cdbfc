"""Builders produce events that real core parsers and verifiers accept, and broken variants that
they reject for the intended reason."""

from __future__ import annotations

import itertools
import time

import pytest
from relay_core.builders import (
    AccountBuilder,
    RecordWrite,
    TidClock,
    bad_block_cid,
    forged_signature,
    high_s_signature,
    oversized_blocks,
    prev_data_break,
    rev_rollback,
    too_many_ops,
    truncated_frame,
    wrong_key,
)
from relay_core.car import read_car
from relay_core.commit import parse_commit, verify_commit_signature
from relay_core.errors import CidMismatch, InvalidData, InvalidFrame, InvalidSignature
from relay_core.firehose.events import parse_event
from relay_core.firehose.frames import decode_frame, encode_frame
from relay_core.identity import parse_did_document
from relay_core.mst import MstOp, invert_ops

LIMITS = {"max_bytes": 10_000_000, "max_blocks": 100_000}


def _ops(body: dict[str, object]) -> list[MstOp]:
    return [MstOp(o["path"], o["cid"], o.get("prev")) for o in body["ops"]]  # type: ignore[attr-defined,index]


def _verify(account: AccountBuilder, body: dict[str, object]) -> None:
    """What a relay does with a sync v1.1 #commit: CAR, signature, prevData inversion."""
    car = read_car(body["blocks"], **LIMITS)  # type: ignore[arg-type]
    commit = parse_commit(car.blocks[body["commit"]])  # type: ignore[index]
    identity = parse_did_document(account.did_document(), account.did)
    verify_commit_signature(commit, identity.signing_key)
    if "prevData" in body:
        assert invert_ops(commit.data, car.blocks, _ops(body)) == body["prevData"]


@pytest.fixture
def account() -> AccountBuilder:
    acc = AccountBuilder(seq=itertools.count(100))
    acc.commit([acc.post(f"seed {i}") for i in range(50)])
    return acc


def test_commit_chain_verifies(account: AccountBuilder) -> None:
    last_rev = account.rev
    first_key = account.tree.items().__next__()[0]
    collection, rkey = first_key.split("/")
    for n in range(20):
        writes = [account.post(f"p{n}")]
        if n % 5 == 4:
            writes.append(RecordWrite(collection, rkey, {"$type": "app.bsky.feed.post", "text": f"edit {n}"}))
        built = account.commit(writes)
        assert built.since == last_rev and built.rev > last_rev  # type: ignore[operator]
        _verify(account, built.body)
        event = parse_event(decode_frame(built.frame()))
        assert type(event).__name__ == "CommitEvent"
        last_rev = built.rev
    deleted = account.commit([RecordWrite(collection, rkey, None)])
    assert deleted.body["ops"][0]["action"] == "delete" and deleted.body["ops"][0]["cid"] is None
    _verify(account, deleted.body)


def test_other_event_bodies(account: AccountBuilder) -> None:
    for t, body in (
        ("#sync", account.sync_body()),
        ("#identity", account.identity_body()),
        ("#account", account.account_body(active=False, status="deactivated")),
    ):
        event = parse_event(decode_frame(encode_frame(t, body)))
        assert event.seq == body["seq"]  # type: ignore[union-attr]
    sync = account.sync_body()
    car = read_car(sync["blocks"], **LIMITS)
    assert list(car.blocks) == [account.commit_cid]


def test_broken_signatures_rejected(account: AccountBuilder) -> None:
    good = account.commit([account.post()])
    for body in (forged_signature(good), high_s_signature(good)):
        with pytest.raises(InvalidSignature):
            _verify(account, body)
    with pytest.raises(InvalidSignature):
        _verify(account, wrong_key(account).body)


def test_broken_chain_and_blocks(account: AccountBuilder) -> None:
    good = account.commit([account.post()])
    with pytest.raises(AssertionError):
        _verify(account, prev_data_break(good))
    with pytest.raises(CidMismatch):
        _verify(account, bad_block_cid(good))
    assert len(oversized_blocks(good)["blocks"]) > 2_000_000
    rollback = rev_rollback(account)
    assert rollback.rev < account.rev  # type: ignore[operator]
    assert len(too_many_ops(account).body["ops"]) == 201
    with pytest.raises((InvalidFrame, InvalidData)):
        decode_frame(truncated_frame(good.frame()))


def test_tid_clock_monotonic() -> None:
    clock = TidClock(start_us=time.time_ns() // 1000 + 10_000_000)
    tids = [clock.next() for _ in range(1000)]
    assert tids == sorted(set(tids))


def test_build_throughput(account: AccountBuilder) -> None:
    """Cheap enough for a simulator: well over a hundred signed commits per second per core."""
    start = time.perf_counter()
    n = 200
    for i in range(n):
        account.commit([account.post(str(i))]).frame()
    rate = n / (time.perf_counter() - start)
    assert rate > 100, rate
