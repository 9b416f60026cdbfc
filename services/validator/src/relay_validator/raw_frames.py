"""`relay.events.v1.RawFrame` (the RAW_FRAMES payload) → the validator's `RawInput`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError
from relay_core.fastinit import trusted_constructor
from relay_proto.events.v1 import events_pb2

__all__ = ["TRACE_HEADERS", "RawInput", "parse_raw_frame", "trace_headers"]

TRACE_HEADERS: Final = ("traceparent", "tracestate")
"""The W3C trace-context headers a frame's message may carry (relay_runtime.tracing injects them)."""


@dataclass(frozen=True, slots=True)
class RawInput:
    """One upstream frame as the slurper published it."""

    host: str
    upstream_seq: int
    received_at_us: int
    frame: bytes
    redelivered: bool
    trace: Mapping[str, str] | None = None
    """The message's trace-context headers, relayed with the verified event."""


_make_raw_input = trusted_constructor(RawInput)
"""Once per frame, from protobuf fields that already have the field types."""


def trace_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """The trace-context subset of a message's headers (None when it carried none)."""
    if not headers or "traceparent" not in headers:
        return None
    return {key: headers[key] for key in TRACE_HEADERS if key in headers}


def parse_raw_frame(
    payload: bytes, *, redelivered: bool, trace: Mapping[str, str] | None = None
) -> RawInput | None:
    """None when the payload is not a RawFrame (counted as `bad_raw_frame`)."""
    message = events_pb2.RawFrame()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return None
    if not message.host:
        return None
    return _make_raw_input(
        host=message.host.lower(),
        upstream_seq=message.upstream_seq,
        received_at_us=message.received_at_us,
        frame=message.frame,
        redelivered=redelivered,
        trace=trace,
    )
