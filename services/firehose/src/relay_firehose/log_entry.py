"""One event of the replay log as this replica serves it: resequenced and WebSocket-framed once."""

from __future__ import annotations

from dataclasses import dataclass

from relay_firehose.resequence import resequence_frame
from relay_firehose.websocket import encode_binary

__all__ = ["AccountChange", "LogEntry", "build_entry"]


@dataclass(frozen=True, slots=True)
class AccountChange:
    """What an ``#account`` event says about takedowns."""

    active: bool
    takendown: bool


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A VERIFIED message ready to write to any consumer.

    ``wire`` is the complete unmasked binary WebSocket frame whose payload is the upstream frame
    with ``seq`` set to the stream sequence; it is built once and shared by every connection.
    """

    seq: int
    published_at_ns: int
    did: str
    kind: str
    wire: bytes
    account: AccountChange | None = None


def build_entry(
    *, seq: int, published_at_ns: int, did: str, kind: str, frame: bytes, account: AccountChange | None
) -> LogEntry:
    """Resequence ``frame`` to ``seq`` and frame it for WebSocket.

    Raises:
        relay_core.errors.InvalidFrame: the frame carries no integer ``seq`` to replace.
    """
    wire = encode_binary(resequence_frame(frame, seq))
    return LogEntry(seq=seq, published_at_ns=published_at_ns, did=did, kind=kind, wire=wire, account=account)
