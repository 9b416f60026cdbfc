"""The MST node wire format: strict decode and canonical encode.

A node is the DAG-CBOR map ``{"e": [entry...], "l": link|null}`` and an entry is
``{"k": suffix bytes, "p": prefix length, "t": link|null, "v": link}``.

Speed comes from libipld (Rust), which checks map key order, definite lengths and trailing
bytes, and represents links as their raw CID bytes. What it lets through (non-minimal heads,
and a byte string versus a link with the same content) is closed by re-encoding the decoded
node and requiring the exact input bytes back: canonical DAG-CBOR has one encoding per value,
and libipld's encoder writes CID-shaped bytes as links, so a ``v`` smuggled in as a plain byte
string, or a key suffix written as a link, fails the comparison. A key suffix can never be
CID-shaped because key characters exclude 0x01 and 0x12.

Internally a node is three lists: full ``keys``, record ``vals`` (binary CIDs) and ``gaps``,
one longer than ``keys``: ``gaps[0]`` is ``l`` and ``gaps[i + 1]`` is entry ``i``'s ``t``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import sha256
from operator import itemgetter
from typing import Any, NamedTuple

import libipld

from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst.keys import (
    KEY_PATTERN,
    MAX_KEY_BYTES,
    common_prefix_bytes,
    key_height_bytes,
    validate_key_bytes,
)

__all__ = [
    "CID_PREFIX",
    "MAX_NODE_ENTRIES",
    "NodeData",
    "NodeEntry",
    "RawNode",
    "decode_node",
    "decode_node_fields",
    "decode_node_raw",
    "encode_node",
    "encode_node_raw",
    "read_node_fields",
]

CID_PREFIX = b"\x01\x71\x12\x20"
"""Binary CIDv1 prefix for DAG-CBOR + SHA-256, the link form for MST nodes and records."""

MAX_NODE_ENTRIES = 10_000
"""Guard against absurd nodes; real nodes hold a handful of entries (fanout 4)."""

_RAW_PREFIX = b"\x01\x55\x12\x20"
_RECORD_PREFIXES = frozenset((CID_PREFIX, _RAW_PREFIX))
_CID_LEN = 36
_KEYS_SHAPE = re.compile(KEY_PATTERN + rb"(?:\n" + KEY_PATTERN + rb")*").fullmatch
_KEY_SHAPE = re.compile(KEY_PATTERN).fullmatch
_decode = libipld.decode_dag_cbor
_encode = libipld.encode_dag_cbor
_ENTRY_FIELDS = itemgetter("k", "p", "t", "v")

NodeFields = tuple[list[bytes], list[bytes], list["bytes | None"], "int | None", bool]
"""`(keys, vals, gaps, layer, canonical)`: a decoded node as `RawNode` holds it, as fresh lists."""


class RawNode(NamedTuple):
    """A decoded node: full keys, record CIDs and child links, all as raw bytes.

    A NamedTuple rather than a frozen dataclass: it is built once per node opened on the
    inversion hot path and tuple construction is several times cheaper.
    """

    keys: list[bytes]
    vals: list[bytes]
    gaps: list[bytes | None]
    layer: int | None
    """Height shared by every key, or None for a node without entries."""
    canonical: bool = True
    """Every prefix length is the full common prefix, so the block is exactly what
    `encode_node_raw` writes for these lists (always true after a strict decode)."""


def encode_node_raw(keys: list[bytes], vals: list[bytes], gaps: list[bytes | None]) -> bytes:
    """Encode a node to canonical DAG-CBOR bytes, prefix-compressing the keys.

    Args:
        keys: full, valid keys, strictly increasing.
        vals: the record CID of each key (binary).
        gaps: ``len(keys) + 1`` child links (binary CIDs or None).
    """
    entries = []
    prev = b""
    for i, key in enumerate(keys):
        p = common_prefix_bytes(prev, key)
        entries.append({"k": key[p:], "p": p, "t": gaps[i + 1], "v": vals[i]})
        prev = key
    return _encode({"e": entries, "l": gaps[0]})  # type: ignore[no-any-return]


def _bad(why: str) -> InvalidMst:
    return InvalidMst(f"malformed MST node: {why}", reason="bad_node")


def _check_links(records: list[bytes], subtrees: list[bytes]) -> None:
    """Check all of a node's links at C speed: join them and look at every 36th byte.

    Records may be dag-cbor or raw; subtree links must be dag-cbor (they name MST nodes).
    """
    try:
        joined = b"".join(records + subtrees)
    except TypeError:
        raise _bad("link is not a CID") from None
    n = len(records) + len(subtrees)
    if (
        len(joined) != n * _CID_LEN
        or joined[0::_CID_LEN] != b"\x01" * n
        or joined[2::_CID_LEN] != b"\x12" * n
        or joined[3::_CID_LEN] != b"\x20" * n
    ):
        raise _bad("link is not a CIDv1 sha-256")
    codecs = joined[1::_CID_LEN]
    n_rec = len(records)
    if codecs[n_rec:].strip(b"\x71") or codecs[:n_rec].translate(None, b"\x71\x55"):
        raise _bad("link codec is not dag-cbor (raw allowed for records)")


def decode_node_raw(data: bytes, *, strict: bool = True) -> RawNode:
    """Decode and validate one node (see `decode_node_fields` for the checks)."""
    return RawNode._make(decode_node_fields(data, strict))


def read_node_fields(data: bytes) -> NodeFields | None:
    """`decode_node_fields(data, strict=False)` for a node that passes, else None.

    The inversion reads every node on an op's path with this: the same checks in fewer steps
    (one unpacking of each entry, link shapes checked by slicing, the key length limit only
    when the block is long enough to hold such a key), and no error to build. None means
    "not accepted here"; `decode_node_fields` then says why, or accepts what this one did not
    expect. `test_mst_node_reader` compares both on many nodes and every one-byte mutation.
    """
    try:
        obj: Any = _decode(data)
    except ValueError:
        return None
    if type(obj) is not dict or len(obj) != 2 or type(entries := obj.get("e")) is not list:
        return None
    if "l" not in obj or len(entries) > MAX_NODE_ENTRIES or _encode(obj) != data:
        return None
    left = obj["l"]
    keys: list[bytes] = []
    vals: list[bytes] = []
    gaps: list[bytes | None] = [left]
    prev = b""
    canonical = True
    # After the canonical round trip CID-shaped bytes can only have been links (see the module
    # docstring), so a link check is a length and prefix check; a value of another type fails
    # it too (a str or list slice never equals bytes) or raises TypeError (no len, no slice).
    try:
        if left is not None and (len(left) != _CID_LEN or left[:4] != CID_PREFIX):
            return None
        for e in entries:
            # A non-dict raises TypeError here and a missing field KeyError; a non-bytes `k`
            # makes `prev[:p] + k` raise TypeError.
            k, p, t, v = _ENTRY_FIELDS(e)
            if len(e) != 4 or type(p) is not int or p > len(prev) or p < 0:
                return None
            if len(v) != _CID_LEN or v[:4] not in _RECORD_PREFIXES:
                return None
            if t is not None and (len(t) != _CID_LEN or t[:4] != CID_PREFIX):
                return None
            if prev[p : p + 1] == k[:1]:
                canonical = False  # p < len(prev) here: a key equal to prev fails below
            key = prev[:p] + k
            if key <= prev:
                return None
            keys.append(key)
            vals.append(v)
            gaps.append(t)
            prev = key
    except (KeyError, TypeError):
        return None
    if not keys:
        return keys, vals, gaps, None, True
    if len(keys) == 1:
        if _KEY_SHAPE(prev) is None:
            return None
    else:
        joined = b"\n".join(keys)
        if _KEYS_SHAPE(joined) is None or joined.count(b"\n") != len(keys) - 1:
            return None
    # A key is at most the sum of the suffixes, so only a long block can hold a too-long key.
    if len(data) > MAX_KEY_BYTES and max(map(len, keys)) > MAX_KEY_BYTES:
        return None
    digest = sha256(keys[0]).digest()  # `key_height_bytes` inlined: one call less per node
    layer = 0 if digest[0] >= 0x40 else (256 - int.from_bytes(digest, "big").bit_length()) >> 1
    return keys, vals, gaps, layer, canonical


def decode_node_fields(data: bytes, strict: bool = True) -> NodeFields:
    """`decode_node_raw` as a plain tuple of fresh lists (the engine's hot path skips `RawNode`).

    Decode and validate one node.

    Always checks: canonical DAG-CBOR with exactly the node schema, links are blessed CIDs
    (dag-cbor for subtrees), keys strictly increasing and shaped ``collection/rkey``, no prefix
    longer than the previous key.
    `strict` (the default) adds: every key has the same height, and each prefix length is the
    full common prefix. Inversion turns `strict` off for speed (one SHA-256 per key is the
    biggest per-entry cost); its caller still checks the first key's height against the layer
    the node sits on, and any other deviation changes the recomputed root, so it cannot make
    a bad commit match ``prevData``. Whether the prefixes are canonical is reported in
    `RawNode.canonical` either way (it is one byte comparison per entry).
    `read_node_fields` accepts the usual node; anything it does not accept is decoded again
    here with each check in turn, for the precise error.

    Raises:
        InvalidMst: reason ``bad_node`` / ``bad_key``.
    """
    fields = read_node_fields(data)
    if fields is not None:
        if not strict:
            return fields
        keys, _, _, layer, canonical = fields
        if canonical and all(key_height_bytes(k) == layer for k in keys[1:]):
            return fields
    return _decode_node_checked(data, strict)


def _decode_node_checked(data: bytes, strict: bool) -> NodeFields:
    """`decode_node_fields` one check at a time, raising the first that fails."""
    try:
        obj: Any = _decode(data)
    except ValueError as exc:
        raise _bad("not DAG-CBOR") from exc
    if type(obj) is not dict or len(obj) != 2 or type(entries := obj.get("e")) is not list:
        raise _bad("not an {e, l} map")
    if "l" not in obj:
        raise _bad("missing l")
    n = len(entries)
    if n > MAX_NODE_ENTRIES:
        raise _bad("too many entries")
    # Canonical bytes for the decoded value: closes non-minimal heads and, because the encoder
    # writes CID-shaped bytes as links, the byte-string/link ambiguity (see module docstring).
    if _encode(obj) != data:
        raise _bad("not canonical (non-minimal head, or bytes where a link belongs)")
    left = obj["l"]
    if not n:
        if left is not None:
            _check_links([], [left])
        return [], [], [left], None, True
    keys: list[bytes] = []
    vals: list[bytes] = []
    gaps: list[bytes | None] = [left]
    prev = b""
    bad_type = bad_link = too_long = unordered = False
    canonical = True
    if left is not None and (type(left) is not bytes or left[:4] != CID_PREFIX or len(left) != _CID_LEN):
        bad_link = True
    try:
        for e in entries:
            if type(e) is not dict or len(e) != 4:
                raise _bad("entry is not a {k, p, t, v} map")
            k = e["k"]
            p = e["p"]
            t = e["t"]
            v = e["v"]
            if type(p) is not int or type(k) is not bytes or p < 0:
                bad_type = True
                break
            # Links are checked one by one: nodes hold a handful, so this beats any bulk trick.
            if type(v) is not bytes or v[:4] not in _RECORD_PREFIXES or len(v) != _CID_LEN:
                bad_link = True
            if t is not None and (type(t) is not bytes or t[:4] != CID_PREFIX or len(t) != _CID_LEN):
                bad_link = True
            if p > len(prev):
                too_long = True
            elif p < len(prev) and k[:1] == prev[p : p + 1]:
                canonical = False
            key = prev[:p] + k
            if keys and key <= prev:
                unordered = True
            keys.append(key)
            vals.append(v)
            gaps.append(t)
            prev = key
    except KeyError:
        raise _bad("entry is not a {k, p, t, v} map") from None
    if bad_type:
        raise _bad("bad k or p type")
    if bad_link:
        _check_links(vals, [g for g in gaps if g is not None])  # raises with the precise message
        raise _bad("link is not a blessed CID")
    if unordered:
        raise _bad("keys not strictly increasing")
    # The count: a key with a newline inside would read as two keys to the pattern.
    joined = b"\n".join(keys)
    if _KEYS_SHAPE(joined) is None or joined.count(b"\n") != n - 1 or max(map(len, keys)) > MAX_KEY_BYTES:
        for key in keys:
            validate_key_bytes(key)  # raises naming the offending key
        raise _bad("keys not collection/rkey")
    layer = key_height_bytes(keys[0])
    if strict:
        if any(key_height_bytes(k) != layer for k in keys[1:]):
            raise InvalidMst("MST node mixes key heights", reason="bad_node")
        if too_long or not canonical:
            raise _bad("prefix length is not the full common prefix")
    elif too_long:
        raise _bad("prefix longer than the previous key")
    return keys, vals, gaps, layer, canonical


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """One entry as written on the wire: key suffix after `prefix_len` shared bytes."""

    prefix_len: int
    key_suffix: bytes
    value: Cid
    right: Cid | None


@dataclass(frozen=True, slots=True)
class NodeData:
    """A node as written on the wire: ``{"l": left, "e": entries}``."""

    left: Cid | None
    entries: tuple[NodeEntry, ...]

    def keys(self) -> list[str]:
        """The entries' full keys, undoing prefix compression."""
        out: list[str] = []
        prev = b""
        for e in self.entries:
            prev = prev[: e.prefix_len] + e.key_suffix
            out.append(prev.decode())
        return out


def _opt(raw: bytes | None) -> Cid | None:
    return None if raw is None else Cid.from_bytes(raw)


def decode_node(data: bytes) -> NodeData:
    """Decode one node block strictly (see `decode_node_raw` for the checks).

    Raises:
        InvalidMst: malformed node.
    """
    raw = decode_node_raw(data)
    entries: list[NodeEntry] = []
    prev = b""
    for i, key in enumerate(raw.keys):
        p = common_prefix_bytes(prev, key)
        entries.append(NodeEntry(p, key[p:], Cid.from_bytes(raw.vals[i]), _opt(raw.gaps[i + 1])))
        prev = key
    return NodeData(_opt(raw.gaps[0]), tuple(entries))


def encode_node(node: NodeData) -> bytes:
    """Encode a node to canonical DAG-CBOR; prefix lengths are recomputed from the full keys.

    Raises:
        InvalidMst: keys are not strictly increasing.
    """
    keys = [k.encode() for k in node.keys()]
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise InvalidMst("MST node keys are not strictly increasing", reason="bad_node")
    return encode_node_raw(
        keys,
        [e.value.raw for e in node.entries],
        [None if node.left is None else node.left.raw]
        + [None if e.right is None else e.right.raw for e in node.entries],
    )
