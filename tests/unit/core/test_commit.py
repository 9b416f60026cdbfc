from __future__ import annotations

import pytest
from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import (
    encode_commit,
    parse_commit,
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
