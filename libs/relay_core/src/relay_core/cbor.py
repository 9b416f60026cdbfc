"""Strict DAG-CBOR: decode only canonical bytes, encode canonically; CID links are `Cid`.

Speed comes from `libipld` (Rust). What it enforces by itself (measured on 3.5.0): trailing bytes,
map key order and uniqueness, string-only keys, indefinite lengths, NaN/Infinity, tags other than 42,
`undefined`/simple values, half floats, invalid UTF-8, malformed tag-42 payloads. What it lets
through: non-minimal integer/length/tag heads and 32-bit floats. We close that gap with one cheap
test: canonical DAG-CBOR has exactly one encoding per value, so the input is canonical iff
re-encoding the decoded value gives back the same bytes (~1 µs per frame).

NOTE: libipld represents a tag-42 link as the bare CID bytes — the same Python value as a byte
string with that content — and its *encoder* turns every byte string that starts with 0x01 or
0x12 and parses as a CID into a link. So:
  * on decode, a plain byte string that looks like a CID fails the re-encode test, and a link
    whose bytes are not a blessed CID is ambiguous; both go to the exact pure-Python decoder
    below, which is the reference behaviour and raises the precise error;
  * on encode, a value holding a byte string starting with 0x01/0x12 goes to the pure-Python
    encoder, so raw bytes are never silently turned into links.
Byte strings that are not CID-shaped never take the slow path, and neither do blessed links.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Final

import libipld

from relay_core.cid import Cid
from relay_core.errors import InvalidData

__all__ = [
    "MAX_DEPTH",
    "decode_dag_cbor",
    "decode_dag_cbor_multi",
    "encode_dag_cbor",
]

MAX_DEPTH: Final = 128
"""Nesting limit for the exact decoder/encoder (libipld is bounded by the recursion limit)."""

_ipld_decode = libipld.decode_dag_cbor
_ipld_decode_multi = libipld.decode_dag_cbor_multi
_ipld_encode = libipld.encode_dag_cbor
_CID_LEADS: Final = (0x01, 0x12)
_BLESSED_PREFIXES: Final = frozenset((bytes((1, 0x71, 0x12, 32)), bytes((1, 0x55, 0x12, 32))))
_new_cid = Cid._trusted


class _Ambiguous(Exception):
    """A libipld result cannot be mapped exactly; redo the work with the exact implementation."""


def _link(raw: bytes) -> Cid:
    # After a successful round trip, a CID-shaped byte string must have been a link.
    if len(raw) == 36 and raw[:4] in _BLESSED_PREFIXES:
        return _new_cid(raw)
    raise _Ambiguous


def _lift_dict(obj: dict[str, Any]) -> None:
    # In place: libipld's output is fresh and ours, and skipping the copy halves the cost.
    # `_link` is inlined for the common blessed link (this runs for every frame).
    for key, value in obj.items():
        t = type(value)
        if t is bytes:
            if value and value[0] in _CID_LEADS:
                obj[key] = (
                    _new_cid(value) if len(value) == 36 and value[:4] in _BLESSED_PREFIXES else _link(value)
                )
        elif t is dict:
            _lift_dict(value)
        elif t is list:
            if value:
                _lift_list(value)


def _lift_list(obj: list[Any]) -> None:
    for i, value in enumerate(obj):
        t = type(value)
        if t is bytes:
            if value and value[0] in _CID_LEADS:
                obj[i] = (
                    _new_cid(value) if len(value) == 36 and value[:4] in _BLESSED_PREFIXES else _link(value)
                )
        elif t is dict:
            _lift_dict(value)
        elif t is list:
            if value:
                _lift_list(value)


def _lift(obj: Any) -> Any:
    """Map libipld's output to ours: tag-42 CID bytes become `Cid` (input already round-tripped)."""
    t = type(obj)
    if t is dict:
        _lift_dict(obj)
    elif t is list:
        _lift_list(obj)
    elif t is bytes and obj and obj[0] in _CID_LEADS:
        return _link(obj)
    return obj


def _lower(obj: Any) -> Any:
    """Map our values to libipld's input; refuse anything libipld would encode inexactly."""
    t = type(obj)
    if t is dict:
        return {k: _lower(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [_lower(v) for v in obj]
    if t is Cid:
        return obj.raw
    if t is bytes and obj and obj[0] in _CID_LEADS:
        raise _Ambiguous
    return obj


def decode_dag_cbor(data: bytes) -> Any:
    """Decode one strict, canonical DAG-CBOR object; links become `Cid`.

    Raises:
        InvalidData: not exactly one canonical DAG-CBOR object, or a link is not a blessed CID.
    """
    try:
        obj = _ipld_decode(data)
        if _ipld_encode(obj) == data:
            return _lift(obj)
    except (ValueError, RecursionError, OverflowError, _Ambiguous):
        pass
    return _ExactDecoder(data).decode_all()


def decode_dag_cbor_multi(data: bytes) -> list[Any]:
    """Decode a concatenation of strict DAG-CBOR objects (a firehose frame is header + body).

    Raises:
        InvalidData: any object is not canonical DAG-CBOR, or the input is truncated.
    """
    try:
        objs = _ipld_decode_multi(data)
        if b"".join([_ipld_encode(o) for o in objs]) == data:
            return [_lift(o) for o in objs]
    except (ValueError, RecursionError, OverflowError, _Ambiguous):
        pass
    dec = _ExactDecoder(data)
    out = []
    while dec.pos < len(data):
        out.append(dec.decode_item(0))
    return out


def encode_dag_cbor(obj: Any) -> bytes:
    """Encode a value canonically. `Cid` becomes tag 42; `bytes` always stay byte strings.

    Accepts dict (str keys), list/tuple, str, bytes, int, float (finite), bool, None, `Cid`.

    Raises:
        InvalidData: the value is outside the data model (bad key, NaN, unsupported type).
    """
    try:
        return bytes(_ipld_encode(_lower(obj)))
    except _Ambiguous:
        pass
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidData(f"cannot encode as DAG-CBOR: {exc}", reason="bad_cbor") from exc
    out = bytearray()
    _encode_exact(obj, out, 0)
    return bytes(out)


# --- exact reference implementation (slow path, and the source of precise errors) ---


def _bad(message: str) -> InvalidData:
    return InvalidData(message, reason="bad_cbor")


class _ExactDecoder:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def decode_all(self) -> Any:
        value = self.decode_item(0)
        if self.pos != len(self.data):
            raise _bad(f"{len(self.data) - self.pos} trailing bytes after DAG-CBOR object")
        return value

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise _bad("truncated DAG-CBOR")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _head(self) -> tuple[int, int, int]:
        """Read an item head: (major type, additional info, argument), enforcing minimal form."""
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info
        if info > 27:
            raise _bad("indefinite length or reserved additional info")
        size = 1 << (info - 24)
        arg = int.from_bytes(self._take(size), "big")
        if major == 7:
            return major, info, arg
        if arg < (24 if size == 1 else 1 << (4 * size)):
            raise _bad("non-minimal integer or length encoding")
        return major, info, arg

    def decode_item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _bad("DAG-CBOR nested too deeply")
        major, info, arg = self._head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            try:
                return self._take(arg).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _bad("text string is not valid UTF-8") from exc
        if major == 4:
            return [self.decode_item(depth + 1) for _ in range(arg)]
        if major == 5:
            return self._decode_map(arg, depth)
        if major == 6:
            return self._decode_tag(arg, depth)
        return self._decode_simple(info, arg)

    def _decode_map(self, length: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        prev: bytes | None = None
        for _ in range(length):
            major, _info, arg = self._head()
            if major != 3:
                raise _bad("map keys must be text strings")
            raw_key = self._take(arg)
            # DAG-CBOR canonical order: shorter keys first, then bytewise.
            if prev is not None and (len(prev), prev) >= (len(raw_key), raw_key):
                raise _bad("map keys are not in canonical order or are duplicated")
            prev = raw_key
            try:
                key = raw_key.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _bad("map key is not valid UTF-8") from exc
            out[key] = self.decode_item(depth + 1)
        return out

    def _decode_tag(self, tag: int, depth: int) -> Cid:
        if tag != 42:
            raise _bad(f"CBOR tag {tag} is not allowed (only 42)")
        payload = self.decode_item(depth + 1)
        if type(payload) is not bytes or not payload or payload[0] != 0:
            raise _bad("tag 42 must wrap a byte string starting with 0x00")
        try:
            return Cid.from_bytes(payload[1:])
        except InvalidData as exc:
            raise _bad(f"link is not a CIDv1 dag-cbor/raw sha256: {exc}") from exc

    def _decode_simple(self, info: int, arg: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 27:
            value: float = struct.unpack(">d", arg.to_bytes(8, "big"))[0]
            if not math.isfinite(value):
                raise _bad("NaN and Infinity are not allowed")
            return value
        if info in (25, 26):
            raise _bad("floats must be encoded as 64-bit")
        raise _bad(f"simple value {arg if info == 24 else info} is not allowed")


def _head_bytes(major: int, arg: int, out: bytearray) -> None:
    mt = major << 5
    if arg < 24:
        out.append(mt | arg)
    elif arg < 0x100:
        out += bytes((mt | 24, arg))
    elif arg < 0x10000:
        out.append(mt | 25)
        out += arg.to_bytes(2, "big")
    elif arg < 0x100000000:
        out.append(mt | 26)
        out += arg.to_bytes(4, "big")
    elif arg < 0x10000000000000000:
        out.append(mt | 27)
        out += arg.to_bytes(8, "big")
    else:
        raise _bad("integer out of the 64-bit CBOR range")


def _encode_exact(obj: Any, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _bad("value nested too deeply")
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            _head_bytes(0, obj, out)
        else:
            _head_bytes(1, -1 - obj, out)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise _bad("NaN and Infinity cannot be encoded")
        out.append(0xFB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        _head_bytes(3, len(raw), out)
        out += raw
    elif isinstance(obj, bytes | bytearray | memoryview):
        _head_bytes(2, len(obj), out)
        out += obj
    elif isinstance(obj, Cid):
        out += b"\xd8\x2a\x58\x25\x00"
        out += obj.raw
    elif isinstance(obj, list | tuple):
        _head_bytes(4, len(obj), out)
        for item in obj:
            _encode_exact(item, out, depth + 1)
    elif isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str):
                raise _bad("map keys must be strings")
            items.append((key.encode("utf-8"), value))
        items.sort(key=lambda kv: (len(kv[0]), kv[0]))
        _head_bytes(5, len(items), out)
        for raw_key, value in items:
            _head_bytes(3, len(raw_key), out)
            out += raw_key
            _encode_exact(value, out, depth + 1)
    else:
        raise _bad(f"type {type(obj).__name__} is not in the data model")
