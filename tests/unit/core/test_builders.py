"""Builders produce events that real core parsers and verifiers accept, and broken variants that
they reject for the intended reason."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from relay_core.builders import (
    AccountBuilder,
    RecordWrite,
    Signer,
    TidClock,
    bad_account_status,
    bad_block_cid,
    bad_handle,
    forged_signature,
    future_rev,
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
from relay_core.errors import CidMismatch, InvalidData, InvalidFrame, InvalidSignature, RelayError
from relay_core.firehose.events import AccountEvent, CommitEvent, IdentityEvent, parse_event
from relay_core.firehose.frames import decode_frame, encode_frame
from relay_core.firehose.limits import MAX_BLOCKS_BYTES, MAX_COMMIT_OPS
from relay_core.firehose.verify import verify_account_event, verify_commit_event, verify_identity_event
from relay_core.identity import parse_did_document
from relay_core.keys import Curve, PrivateKey
from relay_core.mst import MstOp, invert_ops
from relay_core.syntax.tid import tid_from_time

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


def _commit_event(body: dict[str, object]) -> CommitEvent:
    event = parse_event(decode_frame(encode_frame("#commit", {**body, "seq": 1})))
    assert isinstance(event, CommitEvent)
    return event


def _reason(account: AccountBuilder, body: dict[str, object]) -> str:
    try:
        verify_commit_event(
            _commit_event(body), signing_key=account.key.public_key, now_us=time.time_ns() // 1000
        )
    except RelayError as exc:
        return exc.reason
    return "ok"


def test_each_broken_commit_fails_verification_for_its_own_reason(account: AccountBuilder) -> None:
    good = account.commit([account.post()])
    assert _reason(account, good.body) == "ok"
    assert _reason(account, forged_signature(good)) == "signature_mismatch"
    assert _reason(account, high_s_signature(good)) == "high_s"
    assert _reason(account, wrong_key(account, key=Signer(b"\x07" * 32)).body) == "signature_mismatch"
    assert _reason(account, future_rev(account).body) == "future_rev"
    assert _reason(account, prev_data_break(good)) == "broken_chain"
    assert _reason(account, bad_block_cid(good)) == "cid_mismatch"
    oversized = oversized_blocks(good)
    assert len(oversized["blocks"]) == MAX_BLOCKS_BYTES + 1  # type: ignore[arg-type]
    assert _reason(account, oversized) == "blocks_too_big"
    assert len(oversized_blocks(good, MAX_BLOCKS_BYTES)["blocks"]) == MAX_BLOCKS_BYTES  # type: ignore[arg-type]
    # A rollback is signed and well-formed: only the stored rev tells it apart.
    rollback = rev_rollback(account)
    assert _reason(account, rollback.body) == "ok" and rollback.rev < account.rev  # type: ignore[operator]
    many = too_many_ops(account)
    assert len(many.body["ops"]) == len(many.ops) == MAX_COMMIT_OPS + 1
    with pytest.raises(RelayError) as caught:
        parse_event(decode_frame(many.frame()))
    assert caught.value.reason == "too_many_ops"


def test_broken_one_offs_never_advance_the_account(account: AccountBuilder) -> None:
    rev, cid, records = account.rev, account.commit_cid, dict(account.records)
    wrong_key(account), rev_rollback(account), future_rev(account), too_many_ops(account)
    assert (account.rev, account.commit_cid, account.records) == (rev, cid, records)
    assert _reason(account, account.commit([account.post()]).body) == "ok"


def test_bad_block_cid_needs_a_record() -> None:
    acc = AccountBuilder()
    first = acc.post()
    acc.commit([first])
    with pytest.raises(ValueError, match="writes a record"):
        bad_block_cid(acc.commit([RecordWrite(first.collection, first.rkey, None)], advance=False))


def test_bad_identity_and_account_bodies() -> None:
    acc = AccountBuilder()
    identity = parse_event(decode_frame(encode_frame("#identity", bad_handle(acc))))
    account_event = parse_event(decode_frame(encode_frame("#account", bad_account_status(acc))))
    assert isinstance(identity, IdentityEvent) and isinstance(account_event, AccountEvent)
    checks: list[tuple[Callable[[], None], str]] = [
        (lambda: verify_identity_event(identity), "bad_handle"),
        (lambda: verify_account_event(account_event), "bad_account_status"),
    ]
    for check, reason in checks:
        with pytest.raises(RelayError) as caught:
            check()
        assert caught.value.reason == reason


def test_unsequenced_account_leaves_seq_to_its_host() -> None:
    acc = AccountBuilder(sequenced=False)
    built = acc.commit([])
    assert built.seq is None
    bodies = [built.body, acc.sync_body(), acc.identity_body(), acc.account_body()]
    assert all("seq" not in body for body in bodies)
    # The genesis commit carries the (empty) tree's root node, as a PDS sends it.
    assert acc.tree.root in built.blocks and "prevData" not in built.body and built.body["since"] is None


def test_any_commit_signer_signs_and_a_replaced_key_signs_the_next_commit() -> None:
    secret = b"\x05" * 32
    fast, slow = AccountBuilder(key=Signer(secret)), AccountBuilder(key=PrivateKey(Curve.K256, secret))
    assert fast.did == slow.did and fast.key.public_key == slow.key.public_key
    acc = AccountBuilder(key=PrivateKey.generate(Curve.P256))
    acc.commit([acc.post()])
    assert _reason(acc, acc.commit([acc.post()]).body) == "ok"
    rotated = Signer(b"\x06" * 32)
    acc.key = rotated
    assert acc.did_document()["verificationMethod"][0]["publicKeyMultibase"] == rotated.public_key.multibase()
    assert _reason(acc, acc.commit([acc.post()]).body) == "ok"


def test_records_mirror_the_tree_across_rebuilds() -> None:
    acc = AccountBuilder()
    acc.commit([])
    written: list[RecordWrite] = []
    for n in range(150):
        if n % 4 == 3:
            gone = written.pop(0)
            acc.commit([RecordWrite(gone.collection, gone.rkey, None)])
        else:
            written.append(acc.post(str(n)))
            acc.commit([written[-1]])
        assert dict(acc.tree.items()) == acc.records
    assert set(acc.records) == {w.path for w in written}


def test_sync_at_another_rev_leaves_the_account_alone(account: AccountBuilder) -> None:
    assert account.rev is not None
    rev, cid = account.rev, account.commit_cid
    older = tid_from_time(rev.timestamp_us - 5_000_000)
    body = account.sync_body(rev=older)
    car = read_car(body["blocks"], **LIMITS)
    commit = parse_commit(car.blocks[car.roots[0]])
    assert (body["rev"], commit.rev, commit.data) == (str(older), older, account.tree.root)
    verify_commit_signature(commit, account.key.public_key)
    assert (account.rev, account.commit_cid) == (rev, cid)
    assert read_car(account.sync_body()["blocks"], **LIMITS).roots == (cid,)


def test_tid_clock_wraps_the_clock_id_into_ten_bits() -> None:
    assert TidClock(clock_id=1024 + 5).next().clock_id == 5
