"""Verifying atproto signatures: ECDSA over SHA-256, 64-byte compact `r || s`, low-S only.

Contract of `verify_signature`:

- Always checks: length is exactly 64 bytes (so DER, 70-72 bytes, is refused); `r` and `s` are in
  `[1, n-1]`; `s <= n/2` (low-S, checked on the compact form before any library call, so the
  reason is precise); the signature verifies over SHA-256(data) with the key.
- Does not check (the caller must): that the key is the account's *current* signing key.

NOTE: libsecp256k1 (via bitcurve) also refuses high-S by itself; our own check runs first so the
same input yields the same `high_s` reason on both curves. `cryptography` accepts high-S for P-256,
which is why the compact-form check is the one that counts.
"""

from __future__ import annotations

import hashlib

import bitcurve
from bitcurve._bitcurve import ecdsa_verify as _secp_verify
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from relay_core.errors import InvalidSignature
from relay_core.keys import CURVE_ORDERS, Curve, PublicKey

__all__ = ["SIGNATURE_LENGTH", "compact_to_der", "is_low_s", "verify_signature"]

SIGNATURE_LENGTH = 64

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_HALF_ORDERS = {curve: n // 2 for curve, n in CURVE_ORDERS.items()}
# The same bounds as 32-byte big-endian strings: for equal lengths, bytes order is numeric order,
# so the range and low-S checks are three C comparisons instead of two int conversions.
_ORDER_BYTES = {curve: n.to_bytes(32, "big") for curve, n in CURVE_ORDERS.items()}
_HALF_ORDER_BYTES = {curve: n.to_bytes(32, "big") for curve, n in _HALF_ORDERS.items()}
_ZERO32 = bytes(32)
_sha256 = hashlib.sha256


def verify_signature(key: PublicKey, data: bytes, sig: bytes) -> None:
    """Verify `sig` over `data` (hashed with SHA-256 here) with `key`.

    Raises:
        InvalidSignature: reason `bad_signature_length`, `signature_out_of_range`, `high_s` or
            `signature_mismatch`.
    """
    if len(sig) != SIGNATURE_LENGTH:
        raise InvalidSignature(
            f"signature must be {SIGNATURE_LENGTH} bytes compact r||s, got {len(sig)}",
            reason="bad_signature_length",
        )
    if type(sig) is not bytes:
        sig = bytes(sig)
    curve = key.curve
    r = sig[:32]
    s = sig[32:]
    order = _ORDER_BYTES[curve]
    if not (_ZERO32 < r < order and _ZERO32 < s < order):
        raise InvalidSignature("signature r or s out of range", reason="signature_out_of_range")
    if s > _HALF_ORDER_BYTES[curve]:
        raise InvalidSignature("signature is not low-S", reason="high_s")
    verifier = key.verifier
    if isinstance(verifier, bitcurve.PublicKey):
        # libsecp256k1 takes the compact form as it is (no DER round trip); r and s are in range,
        # so it cannot refuse to parse it, and low-S, which its verify also requires, was checked.
        ok = _secp_verify(sig, _sha256(data).digest(), verifier.public_key)
    else:
        try:
            verifier.verify(
                compact_to_der(int.from_bytes(r, "big"), int.from_bytes(s, "big")), data, _ECDSA_SHA256
            )
            ok = True
        except _CryptoInvalidSignature:
            ok = False
    if not ok:
        raise InvalidSignature("signature does not match key and data", reason="signature_mismatch")


def is_low_s(curve: Curve, sig: bytes) -> bool:
    """True if `sig` is 64-byte compact with S in the lower half of the curve order."""
    if len(sig) != SIGNATURE_LENGTH:
        return False
    return 0 < int.from_bytes(sig[32:], "big") <= _HALF_ORDERS[curve]


def compact_to_der(r: int, s: int) -> bytes:
    """DER `SEQUENCE { INTEGER r, INTEGER s }`, which both libraries take as input."""
    rb = r.to_bytes((r.bit_length() + 8) // 8, "big")
    sb = s.to_bytes((s.bit_length() + 8) // 8, "big")
    body = b"\x02" + bytes((len(rb),)) + rb + b"\x02" + bytes((len(sb),)) + sb
    return b"\x30" + bytes((len(body),)) + body
