"""The MST node wire format, encoded and decoded by hand for speed and strictness.

A node is the DAG-CBOR map ``{"e": [entry...], "l": link|null}`` and an entry is
``{"k": suffix bytes, "p": prefix length, "t": link|null, "v": link}``. Keys are sorted the
DAG-CBOR way (length first, then bytes), so the byte layout is fixed up to the lengths and
values. That lets the codec check canonical form while it reads, without a generic CBOR pass,
and sidesteps the generic decoder's inability to tell a byte string from a CID link.

Internally a node is three lists: full ``keys``, record ``vals`` (binary CIDs) and ``gaps``,
one longer than ``keys``: ``gaps[0]`` is ``l`` and ``gaps[i + 1]`` is entry ``i``'s ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.errors import InvalidMst
from relay_core.mst.keys import key_height_bytes, validate_key_bytes

__all__ = [
    "CID_PREFIX",
    "MAX_NODE_ENTRIES",
    "RawNode",
    "decode_node_raw",
    "encode_node_raw",
]

CID_PREFIX = b"\x01\x71\x12\x20"
"""Binary CIDv1 prefix for DAG-CBOR + SHA-256, the only link form the repository spec blesses."""

MAX_NODE_ENTRIES = 10_000
"""Guard against absurd nodes; real nodes hold a handful of entries (fanout 4)."""

_CID_LEN = 36
_RAW_PREFIX = b"\x01\x55\x12\x20"
_TAG_CID = b"\xd8\x2a\x58\x25\x00"  # tag 42, 37-byte string, multibase identity prefix
_NODE_HEAD = b"\xa2\x61e"
_ENTRY_K = b"\xa4\x61k"
_P = b"\x61p"
_T = b"\x61t"
_V = b"\x61v"
_L = b"\x61l"
_NULL = 0xF6


@dataclass(frozen=True, slots=True)
class RawNode:
    """A decoded node: full keys, record CIDs and child links, all as raw bytes."""

    keys: list[bytes]
    vals: list[bytes]
    gaps: list[bytes | None]
    layer: int | None
    """Height shared by every key, or None for a node without entries."""


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return bytes((major | 24, n))
    if n < 0x10000:
        return bytes((major | 25, n >> 8, n & 0xFF))
    return bytes((major | 26,)) + n.to_bytes(4, "big")


def _link(cid: bytes | None) -> bytes:
    return b"\xf6" if cid is None else _TAG_CID + cid


def encode_node_raw(keys: list[bytes], vals: list[bytes], gaps: list[bytes | None]) -> bytes:
    """Encode a node to canonical DAG-CBOR bytes, prefix-compressing the keys.

    Args:
        keys: full keys, strictly increasing.
        vals: the record CID of each key (binary).
        gaps: ``len(keys) + 1`` child links (binary CIDs or None).
    """
    parts = [_NODE_HEAD, _head(0x80, len(keys))]
    prev = b""
    for i, key in enumerate(keys):
        limit = min(len(prev), len(key))
        p = 0
        while p < limit and prev[p] == key[p]:
            p += 1
        suffix = key[p:]
        right = gaps[i + 1]
        parts.append(_ENTRY_K)
        parts.append(_head(0x40, len(suffix)))
        parts.append(suffix)
        parts.append(_P)
        parts.append(_head(0x00, p))
        parts.append(_T)
        parts.append(b"\xf6" if right is None else _TAG_CID + right)
        parts.append(_V)
        parts.append(_TAG_CID)
        parts.append(vals[i])
        prev = key
    parts.append(_L)
    left = gaps[0]
    parts.append(b"\xf6" if left is None else _TAG_CID + left)
    return b"".join(parts)


def _bad(why: str) -> InvalidMst:
    return InvalidMst(f"malformed MST node: {why}", reason="bad_node")


def _read_len(data: bytes, pos: int, major: int) -> tuple[int, int]:
    """Read a minimal-length CBOR head of `major` type at `pos`; return (value, next pos)."""
    if pos >= len(data):
        raise _bad("truncated")
    b = data[pos]
    if b >> 5 != major >> 5:
        raise _bad(f"expected major type {major >> 5}, got byte {b:#x}")
    info = b & 0x1F
    if info < 24:
        return info, pos + 1
    if info == 24:
        if pos + 2 > len(data):
            raise _bad("truncated")
        n = data[pos + 1]
        if n < 24:
            raise _bad("non-minimal integer")
        return n, pos + 2
    if info == 25:
        if pos + 3 > len(data):
            raise _bad("truncated")
        n = (data[pos + 1] << 8) | data[pos + 2]
        if n < 0x100:
            raise _bad("non-minimal integer")
        return n, pos + 3
    if info == 26:
        if pos + 5 > len(data):
            raise _bad("truncated")
        n = int.from_bytes(data[pos + 1 : pos + 5], "big")
        if n < 0x10000:
            raise _bad("non-minimal integer")
        return n, pos + 5
    raise _bad("unsupported length encoding")


def _read_link(data: bytes, pos: int, nullable: bool) -> tuple[bytes | None, int]:
    """Read a null (subtree links only) or a tag-42 link to a node (dag-cbor) or record."""
    if nullable and pos < len(data) and data[pos] == _NULL:
        return None, pos + 1
    if not data.startswith(_TAG_CID, pos):
        raise _bad("expected a CID link")
    start = pos + 5
    cid = data[start : start + _CID_LEN]
    if len(cid) != _CID_LEN or not (
        cid.startswith(CID_PREFIX) or (not nullable and cid.startswith(_RAW_PREFIX))
    ):
        raise _bad("link is not a blessed CIDv1 sha-256")
    return cid, start + _CID_LEN


def decode_node_raw(data: bytes, *, check_heights: bool = True) -> RawNode:
    """Decode and validate one node.

    Always checks: exact canonical byte layout, prefix lengths within the previous key, keys
    strictly increasing and well-formed, links are CIDv1 dag-cbor sha-256, no trailing bytes.
    With `check_heights` (the default) also checks that all keys share one height.

    Raises:
        InvalidMst: reason ``bad_node`` / ``bad_key``.
    """
    if not data.startswith(_NODE_HEAD):
        raise _bad("not a {e, l} map")
    count, pos = _read_len(data, 3, 0x80)
    if count > MAX_NODE_ENTRIES:
        raise _bad("too many entries")
    keys: list[bytes] = []
    vals: list[bytes] = []
    gaps: list[bytes | None] = [None]
    prev = b""
    for _ in range(count):
        if not data.startswith(_ENTRY_K, pos):
            raise _bad("entry is not a {k, p, t, v} map")
        n, pos = _read_len(data, pos + 3, 0x40)
        suffix = data[pos : pos + n]
        if len(suffix) != n:
            raise _bad("truncated key")
        pos += n
        if not data.startswith(_P, pos):
            raise _bad("missing p")
        p, pos = _read_len(data, pos + 2, 0x00)
        if p > len(prev):
            raise _bad("prefix longer than previous key")
        if not data.startswith(_T, pos):
            raise _bad("missing t")
        right, pos = _read_link(data, pos + 2, True)
        if not data.startswith(_V, pos):
            raise _bad("missing v")
        val, pos = _read_link(data, pos + 2, False)
        if p < len(prev) and suffix and suffix[0] == prev[p]:
            raise _bad("prefix length is not the full common prefix")
        key = prev[:p] + suffix
        if key <= prev:
            raise _bad("keys not strictly increasing")
        keys.append(key)
        vals.append(val)  # type: ignore[arg-type]  # non-nullable read never yields None
        gaps.append(right)
        prev = key
    if not data.startswith(_L, pos):
        raise _bad("missing l")
    left, pos = _read_link(data, pos + 2, True)
    if pos != len(data):
        raise _bad("trailing bytes")
    gaps[0] = left
    layer: int | None = None
    if keys:
        for key in keys:
            validate_key_bytes(key)
        layer = key_height_bytes(keys[0])
        if check_heights:
            for key in keys[1:]:
                if key_height_bytes(key) != layer:
                    raise InvalidMst("MST node mixes key heights", reason="bad_node")
    return RawNode(keys, vals, gaps, layer)
