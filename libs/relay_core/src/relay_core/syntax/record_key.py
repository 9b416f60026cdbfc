"""Record keys: the last segment of a repo path (`collection/rkey`)."""

from __future__ import annotations

import re
from typing import NewType

from relay_core.errors import InvalidSyntax

__all__ = ["MAX_RECORD_KEY_LENGTH", "RECORD_KEY_PATTERN", "RecordKey", "parse_record_key"]

RecordKey = NewType("RecordKey", str)
"""A string that passed `parse_record_key`."""

MAX_RECORD_KEY_LENGTH = 512

RECORD_KEY_PATTERN = r"[a-zA-Z0-9._:~-]{1,512}"
"""Regex source for record-key characters and length (`.`/`..` are refused separately)."""
_RECORD_KEY_RE = re.compile(RECORD_KEY_PATTERN)


def parse_record_key(raw: str) -> RecordKey:
    """Check record-key syntax: 1-512 URL-safe characters, and not `.` or `..` (path traversal).

    Raises:
        InvalidSyntax: reason `bad_record_key`.
    """
    if _RECORD_KEY_RE.fullmatch(raw) is None or raw == "." or raw == "..":
        raise InvalidSyntax(f"not a record key: {raw[:64]!r}", reason="bad_record_key")
    return RecordKey(raw)
