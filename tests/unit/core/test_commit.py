from __future__ import annotations

import random

import pytest
from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import (
    _USUAL_SIGNED_COMMIT,
    encode_commit,
    parse_commit,
    parse_signed_commit,
    sign_commit,
    unsigned_commit_bytes,
    verify_commit_signature,
)
from relay_core.errors import InvalidCommit, InvalidSignature
from relay_core.keys import Curve, PrivateKey
from relay_core.syntax.did import parse_did
from relay_core.syntax.tid import tid_from_time

DID = parse_did("did:plc:abcdefghijklmnopqrstuvwx")
DATA = Cid.for_dag_cbor(b"\xa0")


@pytest.mark.parametrize("curve", [Curve.K256, Curve.P256])
def test_sign_encode_parse_verify(curve: Curve) -> None:
    key = PrivateKey.generate(curve)
    commit = sign_commit(did=DID, data=DATA, rev=tid_from_time(1_700_000_000_000_000), prev=None, key=key)
    block = encode_commit(commit)
    parsed = parse_commit(block)
    assert parsed == commit
    verify_commit_signature(parsed, key.public_key)
    assert "sig" not in decode_dag_cbor(unsigned_commit_bytes(commit))
    other = PrivateKey.generate(curve)
    with pytest.raises(InvalidSignature):
        verify_commit_signature(parsed, other.public_key)


def _fields(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "did": str(DID),
        "version": 3,
        "data": DATA,
        "rev": "3kabcdefghijk",
        "prev": None,
        "sig": bytes(64),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"version": 2}, "legacy_commit_version"),
        ({"version": 4}, "bad_commit_version"),
        ({"version": "3"}, "bad_commit_version"),
        ({"extra": 1}, "commit_unknown_field"),
        ({"prev": ...}, "bad_commit_field"),
        ({"sig": bytes(63)}, "bad_commit_field"),
        ({"data": DATA.raw}, "bad_commit_field"),
        ({"did": "not-a-did"}, "bad_commit_field"),
        ({"rev": "2024"}, "bad_commit_field"),
    ],
)
def test_structure_errors(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidCommit) as info:
        parse_commit(encode_dag_cbor(_fields(**changes)))
    assert info.value.reason == reason


def test_not_cbor() -> None:
    with pytest.raises(InvalidCommit) as info:
        parse_commit(b"\xa1")
    assert info.value.reason == "bad_commit_cbor"


def _reference(block: bytes) -> tuple[object, bytes] | str:
    """What the general path (full decode, then re-encode without `sig`) gives: result or reason."""
    try:
        commit = parse_commit(block)
    except InvalidCommit as exc:
        return exc.reason
    return commit, unsigned_commit_bytes(commit)


def _signed(block: bytes) -> tuple[object, bytes] | str:
    try:
        return parse_signed_commit(block)
    except InvalidCommit as exc:
        return exc.reason


@pytest.mark.parametrize(
    "fields",
    [
        _fields(),
        _fields(did="did:web:crev.example.com"),  # `crev` inside the DID: the regex must backtrack
        _fields(did="did:plc:" + "c" * 40),  # 1-byte-length text head (0x78)
        _fields(did="did:web:" + "a" * 240),  # the longest DID with a 0x78 head
        _fields(did="did:web:" + "a" * 300),  # 2-byte length head: general path
        _fields(did="did:web:ex%3Aample.com"),  # `%` escape: general path
        _fields(prev=DATA),
        _fields(prev=Cid.for_raw(b"x")),
        _fields(data=Cid.for_raw(b"x")),  # raw-codec data link: general path
        _fields(rev="7zzzzzzzzzzzz"),  # not a TID (first char out of range)
        _fields(version=2),
    ],
)
def test_signed_commit_fast_path_matches_general_path(fields: dict[str, object]) -> None:
    block = encode_dag_cbor(fields)
    assert _signed(block) == _reference(block)


def test_usual_commit_takes_the_byte_level_path() -> None:
    block = encode_dag_cbor(_fields(prev=DATA))
    assert _USUAL_SIGNED_COMMIT(block) is not None
    commit, unsigned = parse_signed_commit(block)
    assert unsigned == unsigned_commit_bytes(commit)


def test_signed_commit_mutations_match_general_path() -> None:
    """Every single-byte change of a usual commit block: same commit and bytes, or same reason."""
    block = encode_dag_cbor(_fields(did="did:plc:crevabcdefghijklmnopqrst", prev=DATA))
    rng = random.Random(5)
    for pos in range(len(block)):
        for value in {block[pos] ^ 1, block[pos] + 1 & 0xFF, rng.randrange(256), 0x63, 0x6D, 0x78}:
            mutated = block[:pos] + bytes((value,)) + block[pos + 1 :]
            assert _signed(mutated) == _reference(mutated), (pos, value)
