"""Frames → events → verification, on commits built here from the real MST and signer."""

from __future__ import annotations

from typing import Any

import pytest
from relay_core.car import read_car, write_car
from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import encode_commit, sign_commit
from relay_core.errors import (
    BrokenChain,
    CidMismatch,
    InvalidCommit,
    InvalidFrame,
    InvalidMst,
    InvalidSignature,
    LimitExceeded,
)
from relay_core.firehose.events import CommitEvent, SyncEvent, encode_event, parse_event
from relay_core.firehose.frames import decode_frame, encode_error_frame, encode_frame
from relay_core.firehose.verify import verify_commit_event, verify_sync_event
from relay_core.keys import CURVE_ORDERS, Curve, PrivateKey
from relay_core.mst import Mst
from relay_core.syntax.did import parse_did
from relay_core.syntax.tid import tid_from_time

DID = parse_did("did:plc:abcdefghijklmnopqrstuvwx")
NOW_US = 1_700_000_000_000_000
KEY = PrivateKey.generate(Curve.K256)


def _record(i: int) -> tuple[Cid, bytes]:
    block = encode_dag_cbor({"$type": "app.bsky.feed.post", "text": f"post {i}"})
    return Cid.for_dag_cbor(block), block


def _path(i: int) -> str:
    return f"app.bsky.feed.post/{tid_from_time(NOW_US - 10_000_000 + i)}"


def build_commit_body(*, n_existing: int = 40, action: str = "create", **overrides: Any) -> dict[str, Any]:
    old = Mst.from_items([(_path(i), _record(i)[0]) for i in range(n_existing)])
    rec_cid, rec_block = _record(1000)
    if action == "create":
        path, new, op = _path(500), old.set(_path(500), rec_cid), {"action": "create", "cid": rec_cid}
    elif action == "update":
        path = _path(3)
        new, op = old.set(path, rec_cid), {"action": "update", "cid": rec_cid, "prev": _record(3)[0]}
    else:
        path = _path(3)
        new, op = old.delete(path), {"action": "delete", "cid": None, "prev": _record(3)[0]}
    rev = tid_from_time(NOW_US)
    commit = sign_commit(did=DID, data=new.root, rev=rev, prev=None, key=overrides.pop("key", KEY))
    block = encode_commit(commit)
    commit_cid = Cid.for_dag_cbor(block)
    blocks = {commit_cid: block, **new.proof_blocks([path])}
    if op["cid"] is not None:
        blocks[rec_cid] = rec_block
    body: dict[str, Any] = {
        "seq": 7,
        "repo": DID,
        "rev": str(rev),
        "since": str(tid_from_time(NOW_US - 1)),
        "commit": commit_cid,
        "blocks": write_car([commit_cid], blocks),
        "ops": [{"path": path, **op}],
        "blobs": [],
        "prevData": old.root,
        "time": "2023-11-14T22:13:20.000Z",
        "tooBig": False,
        "rebase": False,
    }
    body.update(overrides)
    return body


def _event(body: dict[str, Any]) -> CommitEvent:
    evt = parse_event(decode_frame(encode_frame("#commit", body)))
    assert isinstance(evt, CommitEvent)
    return evt


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_valid_commit_verifies(action: str) -> None:
    body = build_commit_body(action=action)
    evt = _event(body)
    verified = verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US)
    assert verified.commit_cid == body["commit"]
    assert verified.prev_data == body["prevData"]
    assert verified.ops[0].path == body["ops"][0]["path"]
    assert encode_event(evt) == encode_frame("#commit", body)


def test_wrong_key() -> None:
    evt = _event(build_commit_body())
    with pytest.raises(InvalidSignature):
        verify_commit_event(evt, signing_key=PrivateKey.generate(Curve.K256).public_key, now_us=NOW_US)


def test_earlier_key_verifies_after_current_mismatch() -> None:
    evt = _event(build_commit_body())
    current = PrivateKey.generate(Curve.K256).public_key
    stranger = PrivateKey.generate(Curve.K256).public_key
    verified = verify_commit_event(
        evt, signing_key=current, now_us=NOW_US, earlier_keys=[stranger, KEY.public_key]
    )
    assert verified.signed_by == KEY.public_key
    assert verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US).signed_by == KEY.public_key
    with pytest.raises(InvalidSignature) as info:
        verify_commit_event(evt, signing_key=current, now_us=NOW_US, earlier_keys=[stranger])
    assert info.value.reason == "signature_mismatch"


def test_earlier_keys_do_not_excuse_a_malformed_signature() -> None:
    body = build_commit_body()
    evt = _event(body)
    blocks = dict(read_car(body["blocks"], max_bytes=1 << 20, max_blocks=100).blocks)
    commit = decode_dag_cbor(blocks.pop(evt.commit))
    low_s = int.from_bytes(commit["sig"][32:], "big")
    commit["sig"] = commit["sig"][:32] + (CURVE_ORDERS[Curve.K256] - low_s).to_bytes(32, "big")
    block = encode_dag_cbor(commit)
    cid = Cid.for_dag_cbor(block)
    blocks[cid] = block
    bad = _event({**body, "commit": cid, "blocks": write_car([cid], blocks)})
    with pytest.raises(InvalidSignature) as info:
        verify_commit_event(bad, signing_key=KEY.public_key, now_us=NOW_US, earlier_keys=[KEY.public_key])
    assert info.value.reason == "high_s"


def test_wrong_prev_data_breaks_chain() -> None:
    evt = _event(build_commit_body(prevData=Cid.for_dag_cbor(b"\xa0")))
    with pytest.raises(BrokenChain):
        verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US)


def test_op_cid_must_match_tree() -> None:
    body = build_commit_body()
    body["ops"][0]["cid"] = _record(1)[0]
    with pytest.raises(InvalidMst):
        verify_commit_event(_event(body), signing_key=KEY.public_key, now_us=NOW_US, strict=False)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"commit": Cid.for_dag_cbor(b"\xa0")}, "commit_mismatch"),
        ({"repo": "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"}, "did_mismatch"),
        ({"rev": str(tid_from_time(NOW_US + 1))}, "rev_mismatch"),
        ({"since": str(tid_from_time(NOW_US + 5))}, "bad_since"),
        ({"tooBig": True}, "too_big"),
        ({"rebase": True}, "rebase"),
        ({"prevData": None}, "missing_prev_data"),
    ],
)
def test_commit_consistency(overrides: dict[str, Any], reason: str) -> None:
    evt = _event(build_commit_body(**overrides))
    with pytest.raises(InvalidCommit) as info:
        verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US)
    assert info.value.reason == reason


def test_future_rev() -> None:
    evt = _event(build_commit_body())
    with pytest.raises(InvalidCommit) as info:
        verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US - 301_000_000)
    assert info.value.reason == "future_rev"
    verify_commit_event(evt, signing_key=KEY.public_key, now_us=NOW_US - 299_000_000)


def test_tampered_car() -> None:
    body = build_commit_body()
    blocks = bytearray(body["blocks"])
    blocks[-2] ^= 1
    with pytest.raises(CidMismatch):
        verify_commit_event(
            _event({**body, "blocks": bytes(blocks)}), signing_key=KEY.public_key, now_us=NOW_US
        )


def test_oversized_blocks_and_ops() -> None:
    body = build_commit_body()
    with pytest.raises(LimitExceeded):
        _event({**body, "blocks": bytes(2_000_001)})
    with pytest.raises(LimitExceeded):
        _event({**body, "ops": body["ops"] * 201})


@pytest.mark.parametrize(
    "overrides",
    [
        {"seq": -1},
        {"seq": True},
        {"repo": "nope"},
        {"commit": Cid.for_dag_cbor(b"\xa0").raw},
        {"blocks": "text"},
        {"time": "yesterday"},
        {"ops": [{"action": "frob", "path": "a.b.c/x", "cid": None}]},
        {"ops": [{"action": "create", "path": "nocollection", "cid": Cid.for_dag_cbor(b"\xa0")}]},
        {"ops": [{"action": "delete", "path": "a.b.c/x", "cid": Cid.for_dag_cbor(b"\xa0")}]},
        {"ops": [{"action": "create", "path": "a.b.c/x"}]},
        {"tooBig": None},
    ],
)
def test_event_field_errors(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidFrame):
        _event(build_commit_body(**overrides))


def test_since_is_required_nullable() -> None:
    body = build_commit_body()
    del body["since"]
    with pytest.raises(InvalidFrame):
        _event(body)
    assert _event({**body, "since": None}).since is None


def test_frames() -> None:
    frame = decode_frame(encode_error_frame("FutureCursor", "too far"))
    assert frame.is_error and frame.error == "FutureCursor" and frame.message == "too far"
    with pytest.raises(InvalidFrame):
        parse_event(frame)
    with pytest.raises(InvalidFrame):
        decode_frame(encode_dag_cbor({"op": 2}) + encode_dag_cbor({}))
    with pytest.raises(InvalidFrame):
        decode_frame(encode_dag_cbor({"op": 1, "t": "#commit"}))
    with pytest.raises(InvalidFrame):
        decode_frame(encode_frame("#commit", {"seq": 1})[:-1])
    with pytest.raises(LimitExceeded):
        decode_frame(bytes(10), max_bytes=9)
    legacy = parse_event(
        decode_frame(encode_frame("#handle", {"seq": 3, "did": str(DID), "handle": "a.test"}))
    )
    assert legacy.type == "#handle"  # type: ignore[union-attr]
    with pytest.raises(InvalidFrame) as info:
        parse_event(decode_frame(encode_frame("#future", {})))
    assert info.value.reason == "unknown_event_type"


def _sync_body(**overrides: Any) -> dict[str, Any]:
    rev = tid_from_time(NOW_US)
    commit = sign_commit(did=DID, data=Cid.for_dag_cbor(b"\xa0"), rev=rev, prev=None, key=KEY)
    block = encode_commit(commit)
    cid = Cid.for_dag_cbor(block)
    body = {
        "seq": 9,
        "did": DID,
        "blocks": write_car([cid], {cid: block}),
        "rev": str(rev),
        "time": "2023-11-14T22:13:20Z",
    }
    body.update(overrides)
    return body


def test_sync_event() -> None:
    evt = parse_event(decode_frame(encode_frame("#sync", _sync_body())))
    assert isinstance(evt, SyncEvent)
    verified = verify_sync_event(evt, signing_key=KEY.public_key, now_us=NOW_US)
    assert verified.rev == tid_from_time(NOW_US)
    other = PrivateKey.generate(Curve.K256).public_key
    assert (
        verify_sync_event(evt, signing_key=other, now_us=NOW_US, earlier_keys=[KEY.public_key]).signed_by
        == KEY.public_key
    )
    bad = parse_event(decode_frame(encode_frame("#sync", _sync_body(rev=str(tid_from_time(NOW_US - 1))))))
    assert isinstance(bad, SyncEvent)
    with pytest.raises(InvalidCommit):
        verify_sync_event(bad, signing_key=KEY.public_key, now_us=NOW_US)
    with pytest.raises(LimitExceeded):
        parse_event(decode_frame(encode_frame("#sync", _sync_body(blocks=bytes(10_001)))))
