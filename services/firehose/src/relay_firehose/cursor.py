"""Where a new subscriber starts: the cursor rules of subscribeRepos, as a pure decision.

The lexicon: with no cursor, stream live events; with a cursor, send every event whose seq is
greater than it, then live events. A cursor older than the window gets an ``#info``
``OutdatedCursor`` and starts at the oldest event held; a cursor ahead of the newest seq gets the
``FutureCursor`` error and the connection ends. A malformed cursor never reaches the upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

__all__ = ["BadCursor", "Start", "StartKind", "parse_cursor", "plan_start"]


class BadCursor(ValueError):
    """The ``cursor`` query parameter is not a non-negative integer (HTTP 400 before upgrade)."""


class StartKind(StrEnum):
    LIVE = "live"
    REPLAY = "replay"
    OUTDATED = "outdated"
    """Send ``#info OutdatedCursor``, then replay from the oldest event."""
    FUTURE = "future"
    """Send the ``FutureCursor`` error frame and close."""


@dataclass(frozen=True, slots=True)
class Start:
    """The decision: ``next_seq`` is the first seq the subscriber may be sent (REPLAY/OUTDATED)."""

    kind: StartKind
    next_seq: int = 0


def parse_cursor(query: str) -> int | None:
    """The ``cursor`` of a query string, or None when absent or empty.

    Raises:
        BadCursor: repeated, not an integer, negative, or beyond 64 bits.
    """
    values = parse_qs(query, keep_blank_values=True).get("cursor")
    if not values:
        return None
    if len(values) > 1:
        raise BadCursor("cursor given more than once")
    raw = values[0]
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise BadCursor(f"cursor must be a non-negative integer, got {raw[:32]!r}")
    cursor = int(raw)
    if cursor >= 2**63:
        raise BadCursor("cursor out of range")
    return cursor


def plan_start(cursor: int | None, *, first_seq: int, last_seq: int) -> Start:
    """Decide how a subscriber with ``cursor`` starts, given the window ``[first_seq, last_seq]``.

    Args:
        cursor: The parsed cursor; None joins live.
        first_seq: Oldest seq still held; ``last_seq + 1`` when the log is empty.
        last_seq: Newest seq assigned (0 before the first event).
    """
    if cursor is None:
        return Start(StartKind.LIVE)
    if cursor > last_seq:
        return Start(StartKind.FUTURE)
    if cursor + 1 < first_seq:
        return Start(StartKind.OUTDATED, first_seq)
    return Start(StartKind.REPLAY, cursor + 1)
