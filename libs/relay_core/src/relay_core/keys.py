"""Public and private keys for atproto repo signing: secp256k1 (K-256) and NIST P-256.

Wire forms handled here:

- `did:key:z...` and `publicKeyMultibase` of type `Multikey`: base58btc of a multicodec varint
  (`0xe7` secp256k1-pub, `0x1200` p256-pub) followed by the 33-byte SEC1 compressed point.
- Legacy DID documents (`EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019`):
  base58btc of the raw key bytes with no multicodec prefix, compressed (33) or uncompressed (65).

Every `PublicKey` holds a valid curve point: the library key object is built once when the
`PublicKey` is created (that is the point check) and kept for verification, so verifying many
commits by one account never re-parses the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

import bitcurve
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from relay_core.errors import InvalidKey

__all__ = [
    "CURVE_ORDERS",
    "LEGACY_KEY_TYPES",
    "MULTIKEY_TYPE",
    "Curve",
    "PrivateKey",
    "PublicKey",
    "b58decode",
    "b58encode",
    "parse_did_key",
    "parse_multibase_key",
]


class Curve(StrEnum):
    K256 = "k256"
    P256 = "p256"


CURVE_ORDERS: Final[Mapping[Curve, int]] = {
    Curve.K256: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    Curve.P256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
"""Group order n of each curve; a signature's S is "low" when S <= n // 2."""

MULTIKEY_TYPE = "Multikey"
LEGACY_KEY_TYPES: Final[Mapping[str, Curve]] = {
    "EcdsaSecp256k1VerificationKey2019": Curve.K256,
    "EcdsaSecp256r1VerificationKey2019": Curve.P256,
}
"""Verification-method types whose multibase value is raw key bytes without a multicodec prefix."""

_MULTICODEC_PREFIXES: Final[Mapping[Curve, bytes]] = {
    Curve.K256: b"\xe7\x01",  # varint(0xe7)
    Curve.P256: b"\x80\x24",  # varint(0x1200)
}
_CURVE_BY_PREFIX = {prefix: curve for curve, prefix in _MULTICODEC_PREFIXES.items()}
_DID_KEY_PREFIX = "did:key:"
_COMPRESSED_LEN = 33
_UNCOMPRESSED_LEN = 65
_SECRET_LEN = 32
_DID_KEY_CACHE_SIZE = 8192
"""did:key strings repeat (one per account); caching skips base58 and the point check."""


@dataclass(frozen=True)
class PublicKey:
    """A validated public key. Equality and hashing use only `curve` and `compressed`."""

    curve: Curve
    compressed: bytes
    """33-byte SEC1 compressed point."""
    verifier: bitcurve.PublicKey | ec.EllipticCurvePublicKey = field(
        init=False, repr=False, compare=False, hash=False
    )
    """The library's key object, built once; `relay_core.signatures` uses it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "curve", Curve(self.curve))
        if len(self.compressed) != _COMPRESSED_LEN or self.compressed[0] not in (2, 3):
            raise InvalidKey("public key must be a 33-byte compressed point", reason="bad_key_length")
        object.__setattr__(self, "verifier", _load_point(self.curve, self.compressed))

    def __reduce__(self) -> tuple[type[PublicKey], tuple[Curve, bytes]]:
        # The library key objects hold C pointers; pickle/copy rebuild them from the point instead.
        return (PublicKey, (self.curve, self.compressed))

    def multibase(self) -> str:
        """Multikey form: `z` + base58btc(multicodec prefix + compressed point)."""
        return "z" + b58encode(_MULTICODEC_PREFIXES[self.curve] + self.compressed)

    def did_key(self) -> str:
        """The `did:key:z...` form, as used in PLC operations and service auth."""
        return _DID_KEY_PREFIX + self.multibase()


def parse_did_key(did_key: str) -> PublicKey:
    """Parse `did:key:z...` (multicodec-prefixed, compressed K-256 or P-256).

    Results are cached (the same account key is seen over and over).

    Raises:
        InvalidKey: reasons `bad_did_key`, `bad_base58`, `unsupported_key_type`, `bad_key_length`,
            `bad_point`.
    """
    return _parse_did_key_cached(did_key)


def parse_multibase_key(multibase: str, key_type: str | None = None) -> PublicKey:
    """Parse a DID document's `publicKeyMultibase`.

    Args:
        multibase: the `z...` value.
        key_type: the verification method's `type`. `None` or `Multikey` means multicodec-prefixed;
            a legacy type from `LEGACY_KEY_TYPES` means raw key bytes (compressed or uncompressed)
            for that curve.

    Raises:
        InvalidKey: reasons `bad_multibase`, `bad_base58`, `unsupported_key_type`,
            `bad_key_length`, `bad_point`.
    """
    if not multibase.startswith("z"):
        raise InvalidKey("only base58btc (`z`) multibase keys are supported", reason="bad_multibase")
    if key_type is None or key_type == MULTIKEY_TYPE:
        return _from_multicodec(b58decode(multibase[1:]))
    curve = LEGACY_KEY_TYPES.get(key_type)
    if curve is None:
        raise InvalidKey(
            f"unsupported verification method type {key_type[:64]!r}", reason="unsupported_key_type"
        )
    raw = b58decode(multibase[1:])
    if len(raw) == _UNCOMPRESSED_LEN and raw[0] == 4:
        return PublicKey(curve, _compress(curve, raw))
    return PublicKey(curve, raw)


class PrivateKey:
    """A signing key, for tests, tools and dev accounts (the relay itself never signs commits).

    `sign` hashes with SHA-256 and returns the 64-byte compact `r || s` with low S, the only
    signature form atproto accepts.
    """

    __slots__ = ("_p256", "_secret", "curve", "public_key")

    def __init__(self, curve: Curve, secret: bytes) -> None:
        """Prefer `generate` / `from_bytes`; this validates `secret` the same way."""
        if len(secret) != _SECRET_LEN:
            raise InvalidKey("private key must be 32 bytes", reason="bad_key_length")
        self.curve = curve
        self._secret = secret
        self._p256: ec.EllipticCurvePrivateKey | None = None
        if not 0 < int.from_bytes(secret, "big") < CURVE_ORDERS[curve]:
            raise InvalidKey("private key out of range for the curve", reason="bad_private_key")
        if curve is Curve.K256:
            point = bitcurve.PublicKey.from_valid_secret(secret).format(compressed=True)
        else:
            self._p256 = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1())
            point = self._p256.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
        self.public_key = PublicKey(curve, point)

    @classmethod
    def generate(cls, curve: Curve) -> PrivateKey:
        """A fresh random key from the OS CSPRNG."""
        if curve is Curve.K256:
            return cls(curve, bitcurve.PrivateKey().secret)
        number = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
        return cls(curve, number.to_bytes(_SECRET_LEN, "big"))

    @classmethod
    def from_bytes(cls, curve: Curve, raw32: bytes) -> PrivateKey:
        """Load a 32-byte big-endian secret scalar.

        Raises:
            InvalidKey: reason `bad_key_length` or `bad_private_key`.
        """
        return cls(curve, raw32)

    def to_bytes(self) -> bytes:
        """The 32-byte secret scalar (keep it out of logs)."""
        return self._secret

    def sign(self, data: bytes) -> bytes:
        """Sign SHA-256(data); returns 64-byte compact `r || s`, always low-S."""
        if self._p256 is None:
            # libsecp256k1 always produces low-S; the 65th byte is the recovery id.
            return bitcurve.PrivateKey(self._secret).sign_recoverable(data)[:64]
        r, s = decode_dss_signature(self._p256.sign(data, ec.ECDSA(hashes.SHA256())))
        n = CURVE_ORDERS[Curve.P256]
        if s > n // 2:
            s = n - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return f"PrivateKey(curve={self.curve.value!r}, public_key={self.public_key.did_key()!r})"


# --- base58btc -----------------------------------------------------------------------------------
# Small enough to own: keys are ~35 bytes, so Python's big integers do the arithmetic.

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
# Two characters per step halves the interpreted loop; 58**2 entries is a small table.
_B58_PAIR_INDEX = {
    a + b: i * 58 + j for i, a in enumerate(_B58_ALPHABET) for j, b in enumerate(_B58_ALPHABET)
}
_B58_MAX_CHARS = 256
"""Keys are under 100 chars; the cap stops a hostile string from costing quadratic big-int time."""


def b58encode(data: bytes) -> str:
    """Base58btc-encode bytes; each leading zero byte becomes a leading `1`."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58btc text.

    Raises:
        InvalidKey: reason `bad_base58` for a character outside the alphabet or over-long input.
    """
    if len(text) > _B58_MAX_CHARS:
        raise InvalidKey("base58 text too long", reason="bad_base58")
    start = len(text) % 2
    try:
        n = _B58_INDEX[text[0]] if start else 0
        for i in range(start, len(text), 2):
            n = n * 3364 + _B58_PAIR_INDEX[text[i : i + 2]]
    except KeyError:
        raise InvalidKey("character outside the base58btc alphabet", reason="bad_base58") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


# --- helpers for the parsers above -----------------------------------------------------------------


@lru_cache(maxsize=_DID_KEY_CACHE_SIZE)
def _parse_did_key_cached(did_key: str) -> PublicKey:
    if not did_key.startswith(_DID_KEY_PREFIX + "z"):
        raise InvalidKey(f"not a base58btc did:key: {did_key[:64]!r}", reason="bad_did_key")
    return _from_multicodec(b58decode(did_key[len(_DID_KEY_PREFIX) + 1 :]))


def _from_multicodec(raw: bytes) -> PublicKey:
    curve = _CURVE_BY_PREFIX.get(raw[:2])
    if curve is None:
        raise InvalidKey("multicodec is not secp256k1-pub or p256-pub", reason="unsupported_key_type")
    return PublicKey(curve, raw[2:])


def _load_point(curve: Curve, point: bytes) -> bitcurve.PublicKey | ec.EllipticCurvePublicKey:
    try:
        if curve is Curve.K256:
            return bitcurve.PublicKey(point)
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidKey(f"not a point on {curve.value}", reason="bad_point") from None


def _compress(curve: Curve, uncompressed: bytes) -> bytes:
    key = _load_point(curve, uncompressed)
    if isinstance(key, bitcurve.PublicKey):
        return key.format(compressed=True)
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
