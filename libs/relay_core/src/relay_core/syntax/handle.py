"""Handles: DNS hostnames used as human-readable account names.

Handles are case-insensitive; `parse_handle` keeps the caller's spelling (so error messages and
round trips stay faithful) and `normalize_handle` folds to lower case, which is the form to store
and compare.
"""

from __future__ import annotations

import re
from typing import NewType

from relay_core.errors import InvalidSyntax

__all__ = [
    "DISALLOWED_HANDLE_TLDS",
    "INVALID_HANDLE",
    "MAX_HANDLE_LENGTH",
    "Handle",
    "handle_tld_is_disallowed",
    "normalize_handle",
    "parse_handle",
]

Handle = NewType("Handle", str)
"""A string that passed `parse_handle` (possibly mixed case) or `normalize_handle` (lower case)."""

MAX_HANDLE_LENGTH = 253

INVALID_HANDLE = Handle("handle.invalid")
"""What atproto services show when a handle fails bidirectional verification."""

DISALLOWED_HANDLE_TLDS = frozenset(
    {"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}
)
"""Syntactically valid TLDs that atproto forbids for real accounts (the spec's list)."""

# Labels: 1-63 chars of letters, digits and inner hyphens; at least two labels; the TLD starts
# with a letter (so IPv4 addresses are not handles).
_HANDLE_RE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)


def parse_handle(raw: str) -> Handle:
    """Check handle syntax.

    Raises:
        InvalidSyntax: reason `handle_too_long` or `bad_handle`.
    """
    if len(raw) > MAX_HANDLE_LENGTH:
        raise InvalidSyntax(f"handle longer than {MAX_HANDLE_LENGTH} chars", reason="handle_too_long")
    if _HANDLE_RE.fullmatch(raw) is None:
        raise InvalidSyntax(f"not a handle: {raw[:64]!r}", reason="bad_handle")
    return Handle(raw)


def normalize_handle(raw: str) -> Handle:
    """Parse a handle and fold it to lower case (the canonical, comparable form).

    Raises:
        InvalidSyntax: as `parse_handle`.
    """
    return Handle(parse_handle(raw).lower())


def handle_tld_is_disallowed(handle: Handle) -> bool:
    """True if the handle ends in a TLD that atproto never accepts for an account."""
    return handle.rsplit(".", 1)[-1].lower() in DISALLOWED_HANDLE_TLDS
