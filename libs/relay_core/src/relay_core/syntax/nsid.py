"""NSIDs: namespaced identifiers of lexicons, e.g. the collection in a record path.

An NSID is a reversed domain authority plus a name: `com.example.fooBar`. The authority is
case-insensitive and the name is case-sensitive; we keep the string exactly as given because
collections are compared byte-for-byte in repo paths.
"""

from __future__ import annotations

import re
from typing import NewType

from relay_core.errors import InvalidSyntax

__all__ = ["MAX_NSID_LENGTH", "NSID_PATTERN", "Nsid", "nsid_authority", "nsid_name", "parse_nsid"]

Nsid = NewType("Nsid", str)
"""A string that passed `parse_nsid`."""

MAX_NSID_LENGTH = 317
"""The overall cap. NOTE: the interop vectors accept authorities longer than the 253 chars of a DNS
name (a 283-char one is valid), so only the total length is limited."""

# First (TLD) segment starts with a letter; middle segments are DNS labels; the name is letters
# then letters/digits, no hyphens. At least three segments overall.
NSID_PATTERN = (
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
    r"\.[a-zA-Z][a-zA-Z0-9]{0,62}"
)
"""Regex source for NSID syntax (without the length limit), for composing larger patterns."""
_NSID_RE = re.compile(NSID_PATTERN)


def parse_nsid(raw: str) -> Nsid:
    """Check NSID syntax.

    Raises:
        InvalidSyntax: reason `nsid_too_long` or `bad_nsid`.
    """
    if len(raw) > MAX_NSID_LENGTH:
        raise InvalidSyntax(f"NSID longer than {MAX_NSID_LENGTH} chars", reason="nsid_too_long")
    if _NSID_RE.fullmatch(raw) is None:
        raise InvalidSyntax(f"not an NSID: {raw[:64]!r}", reason="bad_nsid")
    return Nsid(raw)


def nsid_authority(nsid: Nsid) -> str:
    """The reversed domain part, e.g. `com.example` for `com.example.fooBar`."""
    return nsid.rsplit(".", 1)[0]


def nsid_name(nsid: Nsid) -> str:
    """The final, case-sensitive name segment, e.g. `fooBar`."""
    return nsid.rsplit(".", 1)[1]
