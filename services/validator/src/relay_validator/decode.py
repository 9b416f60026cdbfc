"""Step 1 of judging: raw frame bytes → a typed event the relay may pass on, or a drop."""

from __future__ import annotations

from relay_core.errors import RelayError
from relay_core.firehose.events import (
    AccountEvent,
    CommitEvent,
    IdentityEvent,
    InfoEvent,
    LegacyEvent,
    SyncEvent,
    decode_event as decode_frame_event,
)

from relay_validator.drop_reason import DropReason, reason_of
from relay_validator.verdict import Drop

__all__ = ["RelayedEvent", "decode_event"]

RelayedEvent = CommitEvent | SyncEvent | IdentityEvent | AccountEvent
"""The event types a relay passes on (after verification)."""


def decode_event(frame: bytes) -> RelayedEvent | Drop:
    """Decode and lexicon-check one upstream frame.

    Legacy types and `#info` are recognised and dropped by name, so they are counted apart from
    garbage. Size limits (`blocks`, `ops`, whole frame) are enforced here, before any hashing.
    """
    try:
        event = decode_frame_event(frame)
    except RelayError as exc:
        return Drop(reason_of(exc), str(exc))
    if isinstance(event, LegacyEvent):
        return Drop(DropReason.LEGACY_EVENT, f"legacy {event.type}")
    if isinstance(event, InfoEvent):
        return Drop(DropReason.INFO_NOT_RELAYED, f"#info {event.name[:64]}")
    return event
