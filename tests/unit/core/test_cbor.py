from __future__ import annotations

import hashlib

import pytest
from relay_core.cbor import decode_dag_cbor, decode_dag_cbor_multi, encode_dag_cbor
from relay_core.cid import Cid
from relay_core.errors import InvalidData

CID = Cid.for_dag_cbor(b"x")
LINK = b"\xd8\x2a\x58\x25\x00" + CID.raw


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("trailing", b"\x01\x02"),
        ("truncated map", b"\xa1\x61"),
        ("truncated bytes", b"\x45ab"),
        ("empty", b""),
        ("unsorted keys", b"\xa2\x61b\x01\x61a\x02"),
        ("length-first order", b"\xa2\x62aa\x01\x61b\x02"),
        ("duplicate keys", b"\xa2\x61a\x01\x61a\x02"),
        ("int key", b"\xa1\x01\x02"),
        ("indefinite array", b"\x9f\x01\xff"),
        ("indefinite map", b"\xbf\x61a\x01\xff"),
        ("nan", b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
        ("inf", b"\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00"),
        ("float32", b"\xfa\x3f\x80\x00\x00"),
        ("float16", b"\xf9\x3c\x00"),
        ("tag 1", b"\xc1\x01"),
        ("undefined", b"\xf7"),
        ("non-minimal int", b"\x18\x01"),
        ("non-minimal length", b"\x78\x01a"),
        ("non-minimal tag", b"\xd9\x00\x2a\x58\x25\x00" + CID.raw),
        ("tag 42 without 0x00", b"\xd8\x2a\x58\x24" + CID.raw),
        ("tag 42 on string", b"\xd8\x2a\x61a"),
        ("tag 42 with trailing byte", b"\xd8\x2a\x58\x26\x00" + CID.raw + b"\x00"),
        ("tag 42 CIDv0", b"\xd8\x2a\x58\x23\x00\x12\x20" + bytes(32)),
        ("bad utf-8", b"\x61\xff"),
    ],
)
def test_rejects(name: str, data: bytes) -> None:
    with pytest.raises(InvalidData):
        decode_dag_cbor(data)


def test_links_become_cid_and_bytes_stay_bytes() -> None:
    # A byte string whose content is a valid CID must stay a byte string (libipld's trap).
    value = {"link": CID, "bytes": CID.raw, "v0ish": b"\x12\x20" + bytes(32), "one": b"\x01\x00"}
    encoded = encode_dag_cbor(value)
    assert encoded.count(b"\xd8\x2a") == 1
    decoded = decode_dag_cbor(encoded)
    assert decoded == value
    assert type(decoded["link"]) is Cid and type(decoded["bytes"]) is bytes
    assert decode_dag_cbor(LINK) == CID


def test_canonical_encoding() -> None:
    assert encode_dag_cbor({"b": 1, "aa": 2, "a": 3}) == b"\xa3\x61a\x03\x61b\x01\x62aa\x02"
    assert encode_dag_cbor(1.5) == b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00"
    assert encode_dag_cbor((1, 2)) == b"\x82\x01\x02"
    big = {"n": [0, 23, 24, 255, 256, 65536, 2**32, 2**63, -1, -25, -(2**64)], "s": "é", "z": None}
    assert decode_dag_cbor(encode_dag_cbor(big)) == big


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: 2}, object(), 2**64])
def test_encode_rejects_outside_data_model(value: object) -> None:
    with pytest.raises(InvalidData):
        encode_dag_cbor(value)


def test_exact_encoder_matches_fast_encoder() -> None:
    # The value with a CID-like byte string takes the exact path; everything else must agree.
    base = {"a": [1, -2, "x", None, True, 1.25, {"k": CID}], "b": hashlib.sha256(b"").digest()}
    fast = encode_dag_cbor(base)
    slow = encode_dag_cbor({**base, "c": b"\x01"})
    assert decode_dag_cbor(slow) == {**base, "c": b"\x01"}
    assert slow[0] == fast[0] + 1
    assert fast[1:] in slow or decode_dag_cbor(fast) == base


def test_multi() -> None:
    data = encode_dag_cbor({"op": 1}) + encode_dag_cbor({"x": CID})
    assert decode_dag_cbor_multi(data) == [{"op": 1}, {"x": CID}]
    with pytest.raises(InvalidData):
        decode_dag_cbor_multi(data + b"\x18\x01")
    with pytest.raises(InvalidData):
        decode_dag_cbor_multi(data[:-1])


def test_deep_nesting_is_bounded() -> None:
    with pytest.raises(InvalidData):
        decode_dag_cbor(b"\x81" * 5000 + b"\x01")
