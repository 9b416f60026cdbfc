"""`read_node_fields` (the inversion's node reader) against the check-by-check decoder: it must
accept exactly the nodes the decoder accepts, with the same fields."""

from __future__ import annotations

import random
from typing import Any

import libipld
from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import Mst
from relay_core.mst.node import _decode_node_checked, decode_node_fields, read_node_fields


def _cid(i: int, raw: bool = False) -> bytes:
    data = i.to_bytes(4, "big")
    return (Cid.for_raw(data) if raw else Cid.for_dag_cbor(data)).raw


def _checked(data: bytes, strict: bool) -> Any:
    try:
        return _decode_node_checked(data, strict)
    except InvalidMst as exc:
        return exc.reason


def _same(data: bytes) -> bool:
    """Assert both readers agree on `data`; True if it is a node."""
    reference = _checked(data, False)
    fast = read_node_fields(data)
    if isinstance(reference, str):
        assert fast is None
    else:
        assert fast == reference
    for strict in (False, True):
        try:
            got: Any = decode_node_fields(data, strict)
        except InvalidMst as exc:
            got = exc.reason
        assert got == _checked(data, strict)
    return fast is not None


def _tree_nodes(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    keys = {f"app.bsky.feed.post/{rng.getrandbits(48):012x}" for _ in range(300)}
    tree = Mst.from_items((k, Cid.for_raw(k.encode())) for k in keys)
    tree.root  # noqa: B018 - seals, so every node is in the store
    return list(tree._store.values())


def test_reader_matches_on_every_one_byte_change() -> None:
    accepted = rejected = 0
    for data in _tree_nodes(1)[:25]:
        assert _same(data)
        for i in range(len(data)):
            for change in (data[i] ^ 0x01, data[i] ^ 0x80, (data[i] + 0x20) & 0xFF):
                if _same(data[:i] + bytes([change]) + data[i + 1 :]):
                    accepted += 1
                else:
                    rejected += 1
            _same(data[:i] + data[i + 1 :])
    assert accepted > 1000 and rejected > 1000


def _node(entries: list[Any], left: Any = None) -> bytes:
    return libipld.encode_dag_cbor({"e": entries, "l": left})  # type: ignore[no-any-return]


def test_reader_matches_on_odd_values() -> None:
    v = _cid(1)
    t = _cid(2)
    good = {"k": b"app.bsky.feed.post/a", "p": 0, "t": None, "v": v}
    second = {"k": b"b", "p": 19, "t": t, "v": v}
    odd: list[bytes] = [
        _node([]),
        _node([], t),
        _node([], _cid(3, raw=True)),
        _node([], b"short"),
        _node([good]),
        _node([good], t),
        _node([good, second]),
        _node([good], _cid(3, raw=True)),
        _node([{**good, "v": _cid(4, raw=True)}]),
        _node([{**good, "t": _cid(4, raw=True)}]),
        _node([{**good, "t": b""}]),
        _node([{**good, "t": 0}]),
        _node([{**good, "t": "x" * 36}]),
        _node([{**good, "v": "x" * 36}]),
        _node([{**good, "v": None}]),
        _node([{**good, "v": [1] * 36}]),
        _node([{**good, "p": True}]),
        _node([{**good, "p": -1}]),
        _node([{**good, "p": 1}]),
        _node([{**good, "p": None}]),
        _node([{**good, "p": 1.0}]),
        _node([{**good, "k": "app.bsky.feed.post/a"}]),
        _node([{**good, "k": None}]),
        _node([{**good, "k": b""}]),
        _node([{**good, "k": b"app.bsky.feed.post/a\napp.bsky.feed.post/b"}]),
        _node([{**good, "k": b"app.bsky.feed.post/" + b"x" * 1006}]),
        _node([{**good, "k": b"app.bsky.feed.post/" + b"x" * 1005}]),
        _node([{**good, "x": 1}]),
        _node([{"k": good["k"], "p": 0, "v": v}]),
        _node([good, {**second, "p": 30}]),
        _node([good, {**second, "k": b""}]),
        _node([good, {**second, "p": 0, "k": b"app.bsky.feed.post/b"}]),  # prefix not compressed
        _node([good, {**second, "p": 0, "k": b"app.bsky.feed.post/"}]),
        _node([second, good]),
        _node([good, "entry"]),
        _node([good, [1, 2, 3, 4]]),
        libipld.encode_dag_cbor({"e": [good], "l": None, "x": 1}),
        libipld.encode_dag_cbor({"e": [good]}),
        libipld.encode_dag_cbor({"e": "x", "l": None}),
        libipld.encode_dag_cbor([good]),
        b"",
        b"\xa2",
    ]
    accepted = sum(_same(data) for data in odd)
    assert 5 <= accepted < len(odd)


def test_a_key_with_a_newline_is_not_two_keys() -> None:
    """The key check runs one pattern over the keys joined by newlines, so a newline inside a
    key must not read as a separator."""
    v = _cid(1)
    data = _node([{"k": b"app.bsky.feed.post/a\napp.bsky.feed.post/b", "p": 0, "t": None, "v": v}])
    assert read_node_fields(data) is None
    for strict in (False, True):
        try:
            decode_node_fields(data, strict)
        except InvalidMst as exc:
            assert exc.reason == "bad_key"
        else:
            raise AssertionError("accepted a key with a newline")


def test_reader_matches_on_key_shapes_in_bigger_nodes() -> None:
    """Nodes of several keys take a different key check from one-key nodes."""
    v = _cid(1)
    shapes = [b"/b", b"b/", b"b//c", b"b/c/d", b"bc", b"b/c\nd/e", b"b c/d", b"b/c\xff", b".:~_/x", b"b/c"]
    accepted = 0
    for first in (b"-/a", b"/a", b"-/", b"-a", b"-/a/"):
        for second in shapes:
            for third in (None, b"zz/z", b"zz/"):
                keys = [first, second] + ([] if third is None else [third])
                entries = [{"k": key, "p": 0, "t": None, "v": v} for key in keys]
                accepted += _same(_node(entries))
    assert 4 <= accepted < 100
