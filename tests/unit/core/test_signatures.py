from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import bitcurve
import pytest
from bitcurve._bitcurve import ecdsa_verify
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from relay_core.errors import InvalidSignature
from relay_core.keys import CURVE_ORDERS, Curve, PrivateKey, parse_did_key
from relay_core.signatures import compact_to_der, is_low_s, verify_signature

DATA = b"commit bytes"


def _flip_s(curve: Curve, sig: bytes) -> bytes:
    """The same signature with S replaced by n - S: mathematically valid, but high-S."""
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (CURVE_ORDERS[curve] - s).to_bytes(32, "big")


@pytest.fixture(params=list(Curve), ids=lambda c: c.value)
def key(request: pytest.FixtureRequest) -> PrivateKey:
    return PrivateKey.generate(request.param)


def test_sign_then_verify(key: PrivateKey) -> None:
    for i in range(20):
        sig = key.sign(DATA + bytes([i]))
        assert len(sig) == 64
        assert is_low_s(key.curve, sig)
        verify_signature(key.public_key, DATA + bytes([i]), sig)


def test_wrong_data_or_key_mismatch(key: PrivateKey) -> None:
    sig = key.sign(DATA)
    with pytest.raises(InvalidSignature) as info:
        verify_signature(key.public_key, DATA + b"!", sig)
    assert info.value.reason == "signature_mismatch"
    other = PrivateKey.generate(key.curve).public_key
    with pytest.raises(InvalidSignature) as info:
        verify_signature(other, DATA, sig)
    assert info.value.reason == "signature_mismatch"


def test_high_s_is_refused_before_the_library(key: PrivateKey) -> None:
    high = _flip_s(key.curve, key.sign(DATA))
    assert not is_low_s(key.curve, high)
    with pytest.raises(InvalidSignature) as info:
        verify_signature(key.public_key, DATA, high)
    assert info.value.reason == "high_s"


def test_libsecp256k1_itself_rejects_high_s() -> None:
    """PERF-NOTES relies on libsecp256k1 refusing non-normalised S; keep that assumption checked
    on the very call `verify_signature` makes (bitcurve's compact verify)."""
    key = PrivateKey.generate(Curve.K256)
    sig = key.sign(DATA)
    verifier = key.public_key.verifier
    assert isinstance(verifier, bitcurve.PublicKey)
    digest = hashlib.sha256(DATA).digest()
    assert ecdsa_verify(sig, digest, verifier.public_key)
    assert not ecdsa_verify(_flip_s(Curve.K256, sig), digest, verifier.public_key)


def test_der_is_refused_by_length(key: PrivateKey) -> None:
    sig = key.sign(DATA)
    der = compact_to_der(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    with pytest.raises(InvalidSignature) as info:
        verify_signature(key.public_key, DATA, der)
    assert info.value.reason == "bad_signature_length"


@pytest.mark.parametrize("length", [0, 63, 65, 71])
def test_bad_lengths(key: PrivateKey, length: int) -> None:
    with pytest.raises(InvalidSignature) as info:
        verify_signature(key.public_key, DATA, b"\x01" * length)
    assert info.value.reason == "bad_signature_length"
    assert not is_low_s(key.curve, b"\x01" * length)


def test_out_of_range_r_or_s(key: PrivateKey) -> None:
    sig = key.sign(DATA)
    n = CURVE_ORDERS[key.curve].to_bytes(32, "big")
    for bad in (bytes(32) + sig[32:], sig[:32] + bytes(32), n + sig[32:]):
        with pytest.raises(InvalidSignature) as info:
            verify_signature(key.public_key, DATA, bad)
        assert info.value.reason == "signature_out_of_range"


def test_compact_to_der_matches_cryptography() -> None:
    for r, s in [(1, 1), (0x7F, 0x80), (2**255, 2**248 - 1), (CURVE_ORDERS[Curve.K256] - 1, 12345)]:
        assert decode_dss_signature(compact_to_der(r, s)) == (r, s)


def test_is_low_s_boundary() -> None:
    half = CURVE_ORDERS[Curve.P256] // 2
    assert is_low_s(Curve.P256, bytes(32) + half.to_bytes(32, "big"))
    assert not is_low_s(Curve.P256, bytes(32) + (half + 1).to_bytes(32, "big"))


def test_interop_high_s_vector_is_the_low_s_vector_flipped() -> None:
    """Ties our _flip_s model to the fixture: the high-S vector is n - s of the valid one."""
    path = Path(__file__).resolve().parents[4] / "shared" / "interop" / "crypto" / "signature-fixtures.json"
    if not path.exists():
        pytest.skip("shared/ not beside the repo; the interop test module covers this")
    fixtures = json.loads(path.read_text())
    for algorithm, curve in (("ES256", Curve.P256), ("ES256K", Curve.K256)):
        valid, high = (
            next(f for f in fixtures if f["algorithm"] == algorithm and f["tags"] == tags)
            for tags in ([], ["high-s"])
        )
        raw = [base64.b64decode(f["signatureBase64"] + "==") for f in (valid, high)]
        assert _flip_s(curve, raw[0]) == raw[1]
        key = parse_did_key(valid["publicKeyDid"])
        verify_signature(key, base64.b64decode(valid["messageBase64"] + "=="), raw[0])
