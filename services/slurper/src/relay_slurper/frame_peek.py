"""Just enough of a frame to route it: kind and upstream seq. Verification is the validator's job.

The decode is relay_core's strict one (1-2 µs for a typical frame with libipld); it also rejects
frames that are not two DAG-CBOR maps or carry an unknown ``op``, which end the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from relay_core.errors import InvalidFrame, LimitExceeded
from relay_core.firehose.frames import decode_frame

from relay_slurper.errors import UpstreamError

__all__ = ["FrameKind", "PeekedFrame", "SeqGuard", "peek_frame"]

_INFO: Final = "#info"


class FrameKind(StrEnum):
    """What the slurper does with a frame."""

    EVENT = "event"
    """Has a seq: published to RAW_FRAMES (if the seq increases)."""
    INFO = "info"
    """``#info`` (e.g. OutdatedCursor): logged, not published; it has no seq to dedupe on."""
    ERROR = "error"
    """``op: -1``: the upstream ends the stream (e.g. FutureCursor)."""


@dataclass(frozen=True, slots=True)
class PeekedFrame:
    kind: FrameKind
    type: str | None
    seq: int
    """The body's ``seq``; 0 for info and error frames."""
    error: str | None = None
    message: str | None = None


def peek_frame(data: bytes, *, max_bytes: int) -> PeekedFrame:
    """Classify one binary WebSocket message.

    Raises:
        UpstreamError: reason ``frame_too_big``, ``bad_frame`` (not two DAG-CBOR maps, unknown
            op, header without ``t``) or ``missing_seq`` (an event frame without integer seq).
    """
    try:
        frame = decode_frame(data, max_bytes=max_bytes)
    except LimitExceeded as exc:
        raise UpstreamError(str(exc), reason="frame_too_big") from exc
    except InvalidFrame as exc:
        raise UpstreamError(str(exc), reason="bad_frame") from exc
    if frame.is_error:
        return PeekedFrame(FrameKind.ERROR, None, 0, frame.error, frame.message)
    if frame.type == _INFO:
        name = frame.body.get("name")
        message = frame.body.get("message")
        return PeekedFrame(
            FrameKind.INFO,
            frame.type,
            0,
            name if type(name) is str else None,
            message if type(message) is str else None,
        )
    seq = frame.body.get("seq")
    if type(seq) is not int or seq < 0:
        raise UpstreamError(f"{frame.type} frame without an integer seq", reason="missing_seq")
    return PeekedFrame(FrameKind.EVENT, frame.type, seq)


class SeqGuard:
    """Upstream seqs must strictly increase; a frame that does not is dropped (and counted).

    Starts from the cursor the connection resumed from, so a replay that re-sends an already
    persisted seq is dropped too.
    """

    __slots__ = ("last",)

    def __init__(self, last: int | None) -> None:
        self.last = last

    def admit(self, seq: int) -> bool:
        """True (and remember ``seq``) when it increases past the last admitted one."""
        if self.last is not None and seq <= self.last:
            return False
        self.last = seq
        return True
