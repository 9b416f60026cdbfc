"""Firehose frames: the binary WebSocket messages of `com.atproto.sync.subscribeRepos`.

A frame is two DAG-CBOR objects back to back: a header `{op: 1, t: "#commit"}` (or `{op: -1}`
for an error) and a body. Both are decoded strictly; the body's CID links come back as `Cid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from relay_core.cbor import decode_dag_cbor_multi, encode_dag_cbor
from relay_core.errors import InvalidData, InvalidFrame, LimitExceeded
from relay_core.firehose.limits import MAX_FRAME_BYTES

__all__ = [
    "OP_ERROR",
    "OP_MESSAGE",
    "Frame",
    "decode_frame",
    "encode_error_frame",
    "encode_frame",
    "frame_from_objects",
]

OP_MESSAGE: Final = 1
OP_ERROR: Final = -1
_header_cache: dict[str, bytes] = {}


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame. `type` is the header `t` (e.g. `#commit`), None for error frames."""

    op: int
    type: str | None
    body: dict[str, Any]

    @property
    def is_error(self) -> bool:
        return self.op == OP_ERROR

    @property
    def error(self) -> str | None:
        """The error name of an error frame (e.g. `FutureCursor`)."""
        value = self.body.get("error") if self.op == OP_ERROR else None
        return value if type(value) is str else None

    @property
    def message(self) -> str | None:
        value = self.body.get("message") if self.op == OP_ERROR else None
        return value if type(value) is str else None


def decode_frame(data: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Frame:
    """Decode one frame: strict DAG-CBOR header and body, header shape checked.

    Does not check the body against the lexicon; `relay_core.firehose.events.parse_event` does.

    Raises:
        LimitExceeded: the frame is longer than `max_bytes` (reason `frame_too_big`).
        InvalidFrame: not two canonical DAG-CBOR maps, or a header with a bad `op`/`t`.
    """
    if len(data) > max_bytes:
        raise LimitExceeded(f"frame is {len(data)} bytes, limit {max_bytes}", reason="frame_too_big")
    try:
        objs = decode_dag_cbor_multi(data)
    except InvalidData as exc:
        raise InvalidFrame(f"frame is not DAG-CBOR: {exc}", reason="bad_frame_cbor") from exc
    return frame_from_objects(objs)


def frame_from_objects(objs: list[Any]) -> Frame:
    """`decode_frame`'s shape and header checks on already decoded (and lifted) objects."""
    if len(objs) != 2:
        raise InvalidFrame(
            f"frame has {len(objs)} objects, expected header and body", reason="bad_frame_shape"
        )
    header, body = objs
    if type(header) is not dict or type(body) is not dict:
        raise InvalidFrame("frame header and body must be maps", reason="bad_frame_shape")
    op = header.get("op")
    if op == OP_MESSAGE and type(op) is int:
        t = header.get("t")
        if type(t) is not str or not t:
            raise InvalidFrame("message frame header lacks a string `t`", reason="bad_frame_header")
        return Frame(op=OP_MESSAGE, type=t, body=body)
    if op == OP_ERROR and type(op) is int:
        if type(body.get("error")) is not str:
            raise InvalidFrame("error frame body lacks a string `error`", reason="bad_frame_header")
        return Frame(op=OP_ERROR, type=None, body=body)
    raise InvalidFrame(f"unknown frame op {op!r}", reason="bad_frame_header")


def encode_frame(t: str, body: dict[str, Any]) -> bytes:
    """Encode a message frame (`op: 1`) with type `t` (e.g. `#commit`) and a body map.

    Raises:
        InvalidData: the body is outside the DAG-CBOR data model.
    """
    header = _header_cache.get(t)
    if header is None:
        header = encode_dag_cbor({"op": OP_MESSAGE, "t": t})
        if len(_header_cache) < 64:
            _header_cache[t] = header
    return header + encode_dag_cbor(body)


def encode_error_frame(error: str, message: str | None = None) -> bytes:
    """Encode an error frame (`op: -1`), e.g. `FutureCursor` or `ConsumerTooSlow`."""
    body: dict[str, Any] = {"error": error}
    if message is not None:
        body["message"] = message
    return encode_dag_cbor({"op": OP_ERROR}) + encode_dag_cbor(body)
