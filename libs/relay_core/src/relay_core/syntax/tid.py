"""TIDs: timestamp identifiers, used for repo revisions (`rev`, `since`) and many record keys.

A TID is a 64-bit integer written as 13 characters of base32-sortable (`234567a-z`): 53 bits of
microseconds since the Unix epoch, then a 10-bit clock id. Because the alphabet is in ASCII order
and the length is fixed, comparing the strings compares the integers, so `Tid` orders by its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from relay_core.errors import InvalidSyntax
from relay_core.fastinit import trusted_constructor

__all__ = ["MAX_CLOCK_ID", "MAX_TIMESTAMP_US", "Tid", "parse_tid", "tid_from_time"]

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Maps base32-sortable digits to the digits `int(x, 32)` understands, so decoding runs in C.
_TO_INT32 = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_TID_RE = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
TID_PATTERN: Final = _TID_RE
"""A full match is exactly what `Tid` accepts."""

MAX_TIMESTAMP_US = (1 << 53) - 1
MAX_CLOCK_ID = (1 << 10) - 1


@dataclass(frozen=True, slots=True, order=True)
class Tid:
    """A parsed TID. Compare two TIDs (e.g. revs) with `<`; `str(tid)` is the wire form."""

    value: str

    def __post_init__(self) -> None:
        # Validating here (not only in parse_tid) means no code path can hold an invalid Tid.
        if _TID_RE.fullmatch(self.value) is None:
            raise InvalidSyntax(f"not a TID: {self.value[:64]!r}", reason="bad_tid")

    @property
    def integer(self) -> int:
        """The 64-bit integer the 13 characters encode."""
        return int(self.value.translate(_TO_INT32), 32)

    @property
    def timestamp_us(self) -> int:
        """Microseconds since the Unix epoch (what the writer's clock said)."""
        return (self.integer >> 10) & MAX_TIMESTAMP_US

    @property
    def clock_id(self) -> int:
        """The 10-bit clock id that keeps TIDs from the same microsecond distinct."""
        return self.integer & MAX_CLOCK_ID

    def __str__(self) -> str:
        return self.value


_make_tid = trusted_constructor(Tid)


def parse_tid(raw: str) -> Tid:
    """Check TID syntax (13 chars, base32-sortable, top bit clear).

    Raises:
        InvalidSyntax: reason `bad_tid`.
    """
    if _TID_RE.fullmatch(raw) is None:
        return Tid(raw)  # raises with the message __post_init__ gives
    return _make_tid(raw)


def tid_from_time(timestamp_us: int, clock_id: int = 0) -> Tid:
    """Build the TID for a timestamp (microseconds since the epoch) and clock id.

    Raises:
        ValueError: if either number is out of range (a programming error, not bad input).
    """
    if not 0 <= timestamp_us <= MAX_TIMESTAMP_US:
        raise ValueError(f"timestamp_us out of range: {timestamp_us}")
    if not 0 <= clock_id <= MAX_CLOCK_ID:
        raise ValueError(f"clock_id out of range: {clock_id}")
    n = (timestamp_us << 10) | clock_id
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[n & 31])
        n >>= 5
    return Tid("".join(reversed(chars)))
