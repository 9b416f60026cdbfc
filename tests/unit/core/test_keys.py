from __future__ import annotations

import copy
import pickle

import bitcurve
import pytest
from cryptography.hazmat.primitives import serialization
from relay_core.errors import InvalidKey
from relay_core.keys import (
    CURVE_ORDERS,
    Curve,
    PrivateKey,
    PublicKey,
    b58decode,
    b58encode,
    parse_did_key,
    parse_multibase_key,
)

K256_DID_KEY = "did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N"


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"", ""), (b"\0", "1"), (b"\0\0\x01", "112"), (b"hello world", "StV1DL6CwTryKyV")],
)
def test_base58_known_values(data: bytes, text: str) -> None:
    assert b58encode(data) == text
    assert b58decode(text) == data


@pytest.mark.parametrize("length", [1, 2, 31, 32, 33, 34, 35, 65, 67])
def test_base58_round_trip_odd_and_even_lengths(length: int) -> None:
    data = bytes(range(length))
    assert b58decode(b58encode(data)) == data


@pytest.mark.parametrize("text", ["0abc", "abcO", "abIl", "abc ", "z" * 257])
def test_base58_rejects(text: str) -> None:
    with pytest.raises(InvalidKey) as info:
        b58decode(text)
    assert info.value.reason == "bad_base58"


@pytest.mark.parametrize("curve", list(Curve))
def test_did_key_round_trip(curve: Curve) -> None:
    key = PrivateKey.generate(curve).public_key
    assert key.did_key().startswith("did:key:zQ3s" if curve is Curve.K256 else "did:key:zDna")
    assert parse_did_key(key.did_key()) == key
    assert parse_multibase_key(key.multibase()) == key
    assert parse_multibase_key(key.multibase(), "Multikey") == key


def test_equality_ignores_cached_verifier() -> None:
    a = parse_did_key(K256_DID_KEY)
    b = PublicKey(Curve.K256, a.compressed)
    assert a == b
    assert hash(a) == hash(b)
    assert a.verifier is not b.verifier


@pytest.mark.parametrize("curve", list(Curve))
def test_pickle_and_copy_rebuild_the_verifier(curve: Curve) -> None:
    key = PrivateKey.generate(curve).public_key
    for clone in (pickle.loads(pickle.dumps(key)), copy.deepcopy(key), copy.copy(key)):
        assert clone == key
        assert clone.verifier is not None


def test_parse_did_key_is_cached() -> None:
    assert parse_did_key(K256_DID_KEY) is parse_did_key(K256_DID_KEY)


@pytest.mark.parametrize("curve", list(Curve))
def test_legacy_multibase_uncompressed_and_compressed(curve: Curve) -> None:
    key = PrivateKey.generate(curve).public_key
    if isinstance(key.verifier, bitcurve.PublicKey):
        uncompressed = key.verifier.format(compressed=False)
    else:
        uncompressed = key.verifier.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    key_type = {
        Curve.K256: "EcdsaSecp256k1VerificationKey2019",
        Curve.P256: "EcdsaSecp256r1VerificationKey2019",
    }
    assert parse_multibase_key("z" + b58encode(uncompressed), key_type[curve]) == key
    assert parse_multibase_key("z" + b58encode(key.compressed), key_type[curve]) == key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("did:key:" + K256_DID_KEY[9:], "bad_did_key"),  # missing the `z` multibase prefix
        ("did:web:example.com", "bad_did_key"),
        ("did:key:z" + b58encode(b"\xed\x01" + bytes(32)), "unsupported_key_type"),  # ed25519
        ("did:key:z" + b58encode(b"\xe7\x01" + b"\x02" + bytes(31)), "bad_key_length"),
        ("did:key:z" + b58encode(b"\xe7\x01" + b"\x04" + bytes(32)), "bad_key_length"),
        # x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        ("did:key:z" + b58encode(b"\xe7\x01" + b"\x02" + (5).to_bytes(32, "big")), "bad_point"),
    ],
)
def test_parse_did_key_rejects(text: str, reason: str) -> None:
    with pytest.raises(InvalidKey) as info:
        parse_did_key(text)
    assert info.value.reason == reason


def test_parse_multibase_rejects_other_bases_and_types() -> None:
    with pytest.raises(InvalidKey) as info:
        parse_multibase_key("f0102")
    assert info.value.reason == "bad_multibase"
    with pytest.raises(InvalidKey) as info:
        parse_multibase_key("zabc", "Ed25519VerificationKey2020")
    assert info.value.reason == "unsupported_key_type"


def test_p256_point_validation() -> None:
    # x = 1: 1 - 3 + b is a quadratic non-residue mod p (Euler's criterion), so no such point.
    with pytest.raises(InvalidKey) as info:
        PublicKey(Curve.P256, b"\x02" + (1).to_bytes(32, "big"))
    assert info.value.reason == "bad_point"


@pytest.mark.parametrize("curve", list(Curve))
def test_private_key_bytes_round_trip(curve: Curve) -> None:
    key = PrivateKey.generate(curve)
    again = PrivateKey.from_bytes(curve, key.to_bytes())
    assert again.public_key == key.public_key
    assert "did:key:" in repr(key)
    assert key.to_bytes().hex() not in repr(key)


@pytest.mark.parametrize("curve", list(Curve))
@pytest.mark.parametrize("secret", [bytes(32), b"\x01" * 31])
def test_private_key_rejects_bad_secrets(curve: Curve, secret: bytes) -> None:
    with pytest.raises(InvalidKey):
        PrivateKey.from_bytes(curve, secret)


@pytest.mark.parametrize("curve", list(Curve))
def test_private_key_rejects_order(curve: Curve) -> None:
    with pytest.raises(InvalidKey) as info:
        PrivateKey.from_bytes(curve, CURVE_ORDERS[curve].to_bytes(32, "big"))
    assert info.value.reason == "bad_private_key"
