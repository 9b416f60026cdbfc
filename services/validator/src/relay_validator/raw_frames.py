"""`relay.events.v1.RawFrame` (the RAW_FRAMES payload) → the validator's `RawInput`."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from relay_proto.events.v1 import events_pb2

__all__ = ["RawInput", "parse_raw_frame"]


@dataclass(frozen=True, slots=True)
class RawInput:
    """One upstream frame as the slurper published it."""

    host: str
    upstream_seq: int
    received_at_us: int
    frame: bytes
    redelivered: bool


def parse_raw_frame(payload: bytes, *, redelivered: bool) -> RawInput | None:
    """None when the payload is not a RawFrame (counted as `bad_raw_frame`)."""
    message = events_pb2.RawFrame()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return None
    if not message.host:
        return None
    return RawInput(
        host=message.host.lower(),
        upstream_seq=message.upstream_seq,
        received_at_us=message.received_at_us,
        frame=message.frame,
        redelivered=redelivered,
    )
