"""Opaque pagination cursors for the sync XRPC queries.

A cursor is the base64url (unpadded) of the last key a page returned: a DID for
listReposByCollection and listRepos, a decimal host id for listHosts. Pages continue strictly
after that key, so a cursor stays valid while ingest goes on: rows inserted behind it are skipped,
rows inserted ahead of it show up, none repeat. Encoding (rather than handing out raw DIDs) keeps
clients from building cursors by hand, and every decoded value is re-parsed, so a forged or
truncated cursor is refused as a bad request instead of reaching RocksDB or SQL.
"""

from __future__ import annotations

import base64
import binascii

from relay_core.errors import InvalidSyntax
from relay_core.syntax import Did, parse_did

from relay_indexer.errors import InvalidCursor

__all__ = ["MAX_CURSOR_LENGTH", "decode_did_cursor", "decode_int_cursor", "encode_cursor"]

MAX_CURSOR_LENGTH = 4096
"""Longer than any cursor we hand out (a 2 KiB DID is ~2.7 KiB encoded); refused before decoding."""


def encode_cursor(key: str) -> str:
    """Encode the last key of a page as an opaque cursor."""
    return base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> str:
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this service issued") from exc
    if encode_cursor(text) != cursor:
        # Non-canonical base64 (stray padding, extra bits) is not something we ever issued.
        raise InvalidCursor("cursor is not one this service issued")
    return text


def decode_did_cursor(cursor: str) -> Did:
    """Decode a cursor issued for a DID-ordered listing.

    Raises:
        InvalidCursor: not valid base64url, or not a DID inside.
    """
    text = _decode(cursor)
    try:
        return parse_did(text)
    except InvalidSyntax as exc:
        raise InvalidCursor("cursor does not hold a DID") from exc


def decode_int_cursor(cursor: str) -> int:
    """Decode a cursor issued for an id-ordered listing (non-negative decimal).

    Raises:
        InvalidCursor: not valid base64url, or not a canonical non-negative integer inside.
    """
    text = _decode(cursor)
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0") or len(text) > 19:
        raise InvalidCursor("cursor does not hold a position")
    return int(text)
