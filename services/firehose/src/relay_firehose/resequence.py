"""Give an upstream frame the relay's seq: the one byte-level change the firehose makes.

Every replica runs this same deterministic DAG-CBOR re-encode on the same stream message, so every
replica serves the same bytes for a seq (decision 0003). The validator already checked the frame
strictly, so this path does not validate again; it only swaps the body's ``seq``.

Fast path: the body's ``seq`` entry is the text key ``"seq"`` (``63 73 65 71``) followed by an
unsigned integer. When those four bytes occur exactly once in the whole frame, that occurrence is
the body's key (the validator guarantees the key is there, so it is at least once), and the new
frame is the old one with the integer after it swapped: a ``find`` and a splice, no decode. It is
also exactly what a re-encode of a canonical frame produces, because only the integer changes.
Anything else (the key twice, e.g. inside a record that says "seq"; no integer after it) takes
the decoding path below.

NOTE: libipld turns a plain byte string that parses as a CID into a link on encode (PERF-NOTES
trap). Such a flip always changes the body's length (a tag-42 head plus the 0x00 multibase prefix),
so the decoding path checks the expected length and, on any mismatch, redoes the work with the exact
codec of ``relay_core.cbor`` (which keeps links and byte strings apart).
"""

from __future__ import annotations

from typing import Any, Final

import libipld
from relay_core.cbor import decode_dag_cbor_multi, encode_dag_cbor
from relay_core.errors import InvalidData, InvalidFrame

__all__ = ["cbor_uint_length", "encode_cbor_uint", "resequence_frame"]

_SEQ_KEY: Final = b"\x63seq"
_MAX_UINT_HEAD: Final = 0x1B

_decode_multi: Final = libipld.decode_dag_cbor_multi
_encode: Final = libipld.encode_dag_cbor
_header_lengths: dict[str, int] = {}


def cbor_uint_length(value: int) -> int:
    """Bytes the canonical CBOR head of unsigned ``value`` takes (major type 0)."""
    if value < 24:
        return 1
    if value < 0x100:
        return 2
    if value < 0x10000:
        return 3
    if value < 0x100000000:
        return 5
    return 9


def encode_cbor_uint(value: int) -> bytes:
    """The canonical CBOR encoding of unsigned ``value`` (major type 0)."""
    if value < 24:
        return bytes((value,))
    if value < 0x100:
        return bytes((0x18, value))
    if value < 0x10000:
        return b"\x19" + value.to_bytes(2, "big")
    if value < 0x100000000:
        return b"\x1a" + value.to_bytes(4, "big")
    return b"\x1b" + value.to_bytes(8, "big")


def resequence_frame(frame: bytes, seq: int) -> bytes:
    """``frame`` (header + body) with the body's ``seq`` set to ``seq``; all else byte-identical.

    Raises:
        InvalidFrame: the frame is not a message frame whose body carries an integer ``seq``
            (``#info`` frames and error frames have none and are never sequenced).
    """
    at = frame.find(_SEQ_KEY)
    if at >= 0 and frame.find(_SEQ_KEY, at + 4) < 0 and len(frame) > at + 4:
        head = frame[at + 4]
        if head <= _MAX_UINT_HEAD:
            end = at + 5 + (0 if head < 24 else 1 << (head - 24))
            if end <= len(frame):
                return b"".join((frame[: at + 4], encode_cbor_uint(seq), frame[end:]))
    return _resequence_decoded(frame, seq)


def _resequence_decoded(frame: bytes, seq: int) -> bytes:
    try:
        header, body = _decode_multi(frame)
    except (ValueError, TypeError) as exc:
        raise InvalidFrame(f"frame is not two DAG-CBOR objects: {exc}", reason="bad_frame_cbor") from exc
    old = body.get("seq") if type(body) is dict else None
    if type(old) is not int or old < 0 or type(header) is not dict:
        raise InvalidFrame("frame body has no non-negative integer seq", reason="bad_event_field")
    t = header.get("t")
    header_length = _header_lengths.get(t) if type(t) is str else None
    if header_length is None:
        header_length = len(_encode(header))
        if type(t) is str and len(_header_lengths) < 64:
            _header_lengths[t] = header_length
    body["seq"] = seq
    new_body = _encode(body)
    expected = len(frame) - header_length - cbor_uint_length(old) + cbor_uint_length(seq)
    if len(new_body) == expected:
        return frame[:header_length] + new_body
    return _resequence_exact(frame, seq)


def _resequence_exact(frame: bytes, seq: int) -> bytes:
    try:
        header, body = decode_dag_cbor_multi(frame)
        fixed: dict[str, Any] = dict(body)
        fixed["seq"] = seq
        return encode_dag_cbor(header) + encode_dag_cbor(fixed)
    except InvalidData as exc:
        raise InvalidFrame(f"frame is not canonical DAG-CBOR: {exc}", reason="bad_frame_cbor") from exc
