"""`decode_event(data)` is exactly `parse_event(decode_frame(data))`: same events, same errors."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from relay_core.atproto_json import from_atproto_json
from relay_core.builders import (
    AccountBuilder,
    RecordWrite,
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
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.firehose.events import decode_event, parse_event
from relay_core.firehose.frames import decode_frame, encode_error_frame, encode_frame

from tests.unit.core.test_verify import DID, build_commit_body

SHARED = Path(os.environ.get("RELAY_SHARED_DIR") or Path(__file__).resolve().parents[4] / "shared")
INDIGO_COMMITS = sorted(
    (SHARED / "interop" / "indigo-testdata" / "atproto" / "repo" / "testdata").glob("firehose_commit_*.json")
)
CID_A = Cid.for_dag_cbor(b"\xa0")


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:
        return "error", (type(exc), str(exc), getattr(exc, "reason", None))


def assert_same(data: bytes, **kwargs: Any) -> tuple[str, Any]:
    old = _outcome(lambda: parse_event(decode_frame(data, **kwargs)))
    new = _outcome(lambda: decode_event(data, **kwargs))
    assert new == old
    if old[0] == "ok":
        assert repr(new[1]) == repr(old[1])
        for name in type(old[1]).__slots__:
            a, b = getattr(old[1], name), getattr(new[1], name)
            assert type(a) is type(b), name
            if type(a) is tuple:
                assert [type(x) for x in a] == [type(x) for x in b], name
    return old


@pytest.fixture
def account() -> AccountBuilder:
    acc = AccountBuilder(seq=itertools.count(100))
    acc.commit([acc.post(f"seed {i}") for i in range(30)])
    return acc


def test_builder_commits(account: AccountBuilder) -> None:
    first_key = next(iter(account.tree.items()))[0]
    collection, rkey = first_key.split("/")
    for n in range(8):
        writes = [account.post(f"p{n}")]
        if n % 3 == 2:
            writes.append(RecordWrite(collection, rkey, {"$type": "app.bsky.feed.post", "text": f"edit {n}"}))
        assert assert_same(account.commit(writes).frame())[0] == "ok"
    assert assert_same(account.commit([RecordWrite(collection, rkey, None)]).frame())[0] == "ok"


def test_builder_broken_events(account: AccountBuilder) -> None:
    good = account.commit([account.post()])
    for body in (
        forged_signature(good),
        high_s_signature(good),
        prev_data_break(good),
        bad_block_cid(good),
        oversized_blocks(good),
    ):
        assert_same(encode_frame("#commit", body))
    for built in (wrong_key(account), rev_rollback(account), too_many_ops(account)):
        assert_same(built.frame())
    for keep in (0, 1, 5, 20, len(good.frame()) - 1):
        assert_same(truncated_frame(good.frame(), keep))
    assert_same(good.frame(), max_bytes=len(good.frame()) - 1)
    assert_same(good.frame(), max_bytes=len(good.frame()))


def test_builder_other_events(account: AccountBuilder) -> None:
    for t, body in (
        ("#sync", account.sync_body()),
        ("#identity", account.identity_body()),
        ("#account", account.account_body(active=False, status="deactivated")),
        ("#account", account.account_body()),
    ):
        assert assert_same(encode_frame(t, body))[0] == "ok"


@pytest.mark.parametrize("path", INDIGO_COMMITS, ids=lambda p: p.stem)
def test_indigo_commit_frames(path: Path) -> None:
    body = from_atproto_json(json.loads(path.read_text()))
    assert_same(encode_frame("#commit", body))


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_verify_bodies(action: str) -> None:
    assert assert_same(encode_frame("#commit", build_commit_body(action=action)))[0] == "ok"


@pytest.mark.parametrize(
    "overrides",
    [
        # test_verify's field errors
        {"seq": -1},
        {"seq": True},
        {"repo": "nope"},
        {"commit": CID_A.raw},
        {"blocks": "text"},
        {"time": "yesterday"},
        {"ops": [{"action": "frob", "path": "a.b.c/x", "cid": None}]},
        {"ops": [{"action": "create", "path": "nocollection", "cid": CID_A}]},
        {"ops": [{"action": "delete", "path": "a.b.c/x", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/x"}]},
        {"tooBig": None},
        # limits
        {"blocks": bytes(2_000_001)},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A}] * 201},
        # unusual but valid, or broken in ways the fast path must hand over
        {"since": None},
        {"prevData": None},
        {"prevData": CID_A.raw},
        {"prevData": "x"},
        {"extra": 1},
        {"extra": CID_A},
        {"extra": CID_A.raw},
        {"blobs": [CID_A, Cid.for_raw(b"x")]},
        {"blobs": [CID_A.raw]},
        {"blobs": "x"},
        {"blocks": b""},
        {"blocks": CID_A.raw},
        {"blocks": b"\x12abc"},
        {"blocks": CID_A},
        {"commit": "x"},
        {"rev": "x"},
        {"since": "x"},
        {"since": 3},
        {"time": "2023-11-14T22:13:20Z"},
        {"time": "2023-02-30T22:13:20.000Z"},
        {"time": 5},
        {"tooBig": True},
        {"rebase": True},
        {"repo": "did:web:example.com"},
        {"repo": "did:plc:" + "a" * 3000},
        {"ops": []},
        {"ops": "x"},
        {"ops": [5]},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A, "extra": 1}]},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A, "prev": None}]},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A, "prev": CID_A}]},
        {"ops": [{"action": "update", "path": "a.b.c/x", "cid": CID_A, "prev": CID_A}]},
        {"ops": [{"action": "update", "path": "a.b.c/x", "cid": None}]},
        {"ops": [{"action": "delete", "path": "a.b.c/x", "cid": None, "prev": CID_A}]},
        {"ops": [{"action": "delete", "path": "a.b.c/x", "cid": None, "prev": CID_A.raw}]},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A.raw}]},
        {"ops": [{"action": "create", "path": "a.b.c/.", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/x/y", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a" * 400 + ".b.c/x", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/" + "x" * 600, "cid": CID_A}]},
        {"ops": [{"action": 1, "path": "a.b.c/x", "cid": CID_A}]},
    ],
    ids=repr,
)
def test_field_variants(overrides: dict[str, Any]) -> None:
    assert_same(encode_frame("#commit", build_commit_body(**overrides)))


def test_missing_fields() -> None:
    body = build_commit_body()
    for key in list(body):
        assert_same(encode_frame("#commit", {k: v for k, v in body.items() if k != key}))
    op = body["ops"][0]
    for key in list(op):
        bad = {**body, "ops": [{k: v for k, v in op.items() if k != key}]}
        assert_same(encode_frame("#commit", bad))


def test_non_canonical_and_odd_links() -> None:
    frame = encode_frame("#commit", build_commit_body())
    # Non-minimal integer head for seq (7 as 0x18 0x07).
    seq = b"cseq\x07"
    assert frame.count(seq) == 1
    assert assert_same(frame.replace(seq, b"cseq\x18\x07"))[0] == "error"
    # A dag-pb CID link (well-formed, not blessed) where the op's cid is.
    body = build_commit_body()
    cid = body["ops"][0]["cid"].raw
    odd = b"\x01\x70" + cid[2:]
    assert assert_same(frame.replace(cid, odd))[0] == "error"
    # A commit link with a sha-512 code but 32 bytes (libipld rejects or lifts ambiguously).
    assert_same(frame.replace(body["commit"].raw, b"\x01\x71\x13\x20" + body["commit"].raw[4:]))


def test_headers_and_other_frames() -> None:
    body = encode_dag_cbor(build_commit_body())
    for header in (
        {"op": 1, "t": "#commit"},
        {"op": 1, "t": "#commit", "x": 1},
        {"op": True, "t": "#commit"},
        {"op": 1.0, "t": "#commit"},
        {"op": 2, "t": "#commit"},
        {"op": -1, "t": "#commit"},
        {"op": 1, "t": "#Commit"},
        {"op": 1, "t": ""},
        {"op": 1},
        {"t": "#commit"},
    ):
        assert_same(encode_dag_cbor(header) + body)
    assert_same(encode_dag_cbor({"op": 1, "t": "#commit"}))
    assert_same(encode_dag_cbor({"op": 1, "t": "#commit"}) + body + encode_dag_cbor({}))
    assert_same(encode_dag_cbor([1]) + body)
    assert_same(encode_dag_cbor({"op": 1, "t": "#commit"}) + encode_dag_cbor([1]))
    assert_same(b"")
    assert_same(b"\xff\xff")
    assert_same(encode_error_frame("FutureCursor", "too far"))
    assert_same(encode_error_frame("ConsumerTooSlow"))
    assert_same(encode_dag_cbor({"op": -1}) + encode_dag_cbor({"message": "x"}))
    assert_same(encode_dag_cbor({"op": 2}) + encode_dag_cbor({}))
    assert_same(encode_frame("#commit", {"seq": 1})[:-1])
    assert_same(bytes(10), max_bytes=9)
    assert_same(encode_frame("#handle", {"seq": 3, "did": str(DID), "handle": "a.test"}))
    assert_same(encode_frame("#tombstone", {"seq": 3, "did": str(DID), "time": "x"}))
    assert_same(encode_frame("#future", {}))
    assert_same(encode_frame("#info", {"name": "OutdatedCursor"}))
    assert_same(encode_frame("#identity", {"seq": 1, "did": str(DID), "time": "2023-11-14T22:13:20.000Z"}))
    assert_same(encode_frame("#identity", {"seq": 1, "did": str(DID), "time": "x", "link": CID_A}))


def test_fast_paths_taken(monkeypatch: pytest.MonkeyPatch, account: AccountBuilder) -> None:
    """Good frames never decode twice; good `#commit`s skip the `Frame` altogether."""
    import relay_core.firehose.events as events

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("slow path taken")

    commit = account.commit([account.post()]).frame()
    identity = encode_frame("#identity", account.identity_body())
    expected = parse_event(decode_frame(commit)), parse_event(decode_frame(identity))
    monkeypatch.setattr(events, "decode_frame", fail)
    assert decode_event(identity) == expected[1]
    monkeypatch.setattr(events, "frame_from_objects", fail)
    assert decode_event(commit) == expected[0]
    for action in ("update", "delete"):
        decode_event(encode_frame("#commit", build_commit_body(action=action)))
