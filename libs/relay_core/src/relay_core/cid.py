"""Content identifiers (CIDs) as atproto uses them.

atproto "blesses" exactly one CID shape for links: CIDv1, multicodec dag-cbor (0x71) or raw (0x55),
multihash sha2-256 with a 32-byte digest, written as base32 (multibase prefix `b`). A relay only
ever needs that shape, so `Cid` accepts nothing else; that keeps construction a few byte
comparisons instead of a general multiformats parser on the hot path.

The lexicon `cid` *string format* is looser (any multibase, even dag-pb); `check_cid_syntax` covers
that for the interop syntax vectors without pretending such strings are usable links.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from relay_core.errors import InvalidData, InvalidSyntax

__all__ = [
    "CODEC_DAG_CBOR",
    "CODEC_RAW",
    "CID_BYTES_LEN",
    "Cid",
    "check_cid_syntax",
    "parse_cid_string",
]

CODEC_DAG_CBOR: Final = 0x71
CODEC_RAW: Final = 0x55
_SHA256: Final = 0x12
CID_BYTES_LEN: Final = 36
"""Binary length of every blessed CID: version, codec, hash code, digest length, 32-byte digest."""

_PREFIX_DAG_CBOR: Final = bytes((1, CODEC_DAG_CBOR, _SHA256, 32))
_PREFIX_RAW: Final = bytes((1, CODEC_RAW, _SHA256, 32))
_PREFIXES: Final = frozenset((_PREFIX_DAG_CBOR, _PREFIX_RAW))
_new = object.__new__
_set_attr = object.__setattr__
_CID_SYNTAX: Final = re.compile(r"[a-zA-Z0-9+=]{8,256}")


class Cid:
    """A blessed atproto CIDv1 (dag-cbor or raw, sha2-256), held as its 36 binary bytes.

    Immutable and hashable, so it can key the block map of a CAR. Equality is on the bytes.
    """

    __slots__ = ("raw",)
    raw: bytes
    """The 36 binary bytes (what goes inside DAG-CBOR tag 42, after its 0x00 prefix)."""

    def __init__(self, raw: bytes) -> None:
        """Wrap binary CID bytes, validating the blessed shape (same as `from_bytes`)."""
        if len(raw) != CID_BYTES_LEN or raw[:4] not in _PREFIXES:
            raise InvalidData(f"not a CIDv1 dag-cbor/raw sha256: {bytes(raw[:8]).hex()}...", reason="bad_cid")
        _set_attr(self, "raw", bytes(raw))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Cid:
        """Parse binary CID bytes (no multibase prefix, no 0x00 tag-42 prefix).

        Raises:
            InvalidData: not a CIDv1 with codec dag-cbor/raw and a 32-byte sha2-256 multihash.
        """
        if len(raw) != CID_BYTES_LEN or raw[:4] not in _PREFIXES or type(raw) is not bytes:
            return cls(raw)
        obj = _new(cls)
        _set_attr(obj, "raw", raw)
        return obj

    @staticmethod
    def _trusted(raw: bytes) -> Cid:
        # Skips validation: only for bytes this package just built or already checked.
        obj = _new(Cid)
        _set_raw(obj, raw)
        return obj

    @classmethod
    def for_dag_cbor(cls, data: bytes) -> Cid:
        """The CID of a DAG-CBOR block (commit, MST node, record)."""
        return Cid._trusted(_PREFIX_DAG_CBOR + hashlib.sha256(data).digest())

    @classmethod
    def for_raw(cls, data: bytes) -> Cid:
        """The CID of raw bytes (blobs)."""
        return Cid._trusted(_PREFIX_RAW + hashlib.sha256(data).digest())

    def __bytes__(self) -> bytes:
        return self.raw

    @property
    def codec(self) -> int:
        return self.raw[1]

    @property
    def digest(self) -> bytes:
        """The sha2-256 digest of the block this CID names."""
        return self.raw[4:]

    def matches(self, data: bytes) -> bool:
        """Whether `data` hashes to this CID (codec is not checked: the digest is what binds)."""
        return hashlib.sha256(data).digest() == self.raw[4:]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Cid is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Cid):
            return self.raw == other.raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.raw)

    def __lt__(self, other: Cid) -> bool:
        return self.raw < other.raw

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.raw).decode("ascii").lower().rstrip("=")

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"

    def __reduce__(self) -> tuple[type[Cid], tuple[bytes]]:
        return (Cid, (self.raw,))


_set_raw = Cid.__dict__["raw"].__set__  # the slot's descriptor


def parse_cid_string(text: str) -> Cid:
    """Parse a base32 (`b`-prefixed) CIDv1 string as used in atproto JSON and XRPC.

    Raises:
        InvalidSyntax: not base32 multibase, or not a blessed CID.
    """
    # 36 bytes always encode to 58 base32 characters, plus the multibase prefix.
    if len(text) != 59 or text[0] != "b" or not text.isascii() or not text[1:].islower():
        raise InvalidSyntax(f"not a base32 CIDv1 string: {text[:80]!r}", reason="bad_cid")
    try:
        raw = base64.b32decode(text[1:].upper() + "======")
    except ValueError as exc:
        raise InvalidSyntax(f"bad base32 in CID: {text!r}", reason="bad_cid") from exc
    try:
        cid = Cid(raw)
    except InvalidData as exc:
        raise InvalidSyntax(f"unsupported CID: {text!r}", reason="bad_cid") from exc
    # Reject non-canonical trailing bits (two strings must not name the same CID).
    if str(cid) != text:
        raise InvalidSyntax(f"non-canonical base32 CID: {text!r}", reason="bad_cid")
    return cid


def check_cid_syntax(text: str) -> str:
    """Check the lexicon `cid` string format (loose: any multibase, any codec; CIDv0 refused).

    This is the syntax check the interop vectors describe; it does not decode the CID. Use
    `parse_cid_string` when the value will be used as a link.

    Raises:
        InvalidSyntax: the string cannot be a CID in atproto.
    """
    if _CID_SYNTAX.fullmatch(text) is None:
        raise InvalidSyntax(f"bad CID syntax: {text[:80]!r}", reason="bad_cid")
    # NOTE: CIDv0 (base58 "Qm...") is explicitly not allowed in atproto string fields.
    if text.startswith("Qmb"):
        raise InvalidSyntax("CIDv0 is not allowed", reason="bad_cid")
    return text
