"""Query-parameter parsing for the sync XRPC endpoints, exactly as the lexicons type them.

Each function takes the raw multi-dict of query parameters and returns a typed value, or raises
`XrpcError("InvalidRequest", ...)` (HTTP 400). Values are used as sent (no trimming): a DID with a
trailing space is not the same DID. Unknown parameters are ignored, as XRPC servers do.
"""

from __future__ import annotations

from collections.abc import Mapping

from relay_core.errors import InvalidSyntax
from relay_core.syntax import Did, Nsid, Tid, parse_did, parse_nsid, parse_tid

from relay_indexer.cursor_codec import decode_did_cursor, decode_int_cursor
from relay_indexer.errors import InvalidCursor, XrpcError
from relay_indexer.host import normalize_hostname

__all__ = [
    "did_cursor_param",
    "did_param",
    "hostname_param",
    "int_cursor_param",
    "limit_param",
    "nsid_param",
    "optional_tid_param",
]

Params = Mapping[str, str]


def _invalid(message: str) -> XrpcError:
    return XrpcError("InvalidRequest", message)


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise _invalid(f'Error: Params must have the property "{name}"')
    return value


def did_param(params: Params, name: str = "did") -> Did:
    raw = _required(params, name)
    try:
        return parse_did(raw)
    except InvalidSyntax as exc:
        raise _invalid(f"Error: {name} must be a valid did") from exc


def nsid_param(params: Params, name: str) -> Nsid:
    raw = _required(params, name)
    try:
        return parse_nsid(raw)
    except InvalidSyntax as exc:
        raise _invalid(f"Error: {name} must be a valid nsid") from exc


def optional_tid_param(params: Params, name: str) -> Tid | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_tid(raw)
    except InvalidSyntax as exc:
        raise _invalid(f"Error: {name} must be a valid tid") from exc


def hostname_param(params: Params, name: str = "hostname") -> str:
    raw = _required(params, name)
    try:
        return normalize_hostname(raw)
    except ValueError as exc:
        raise _invalid(f"Error: {name} must be a hostname") from exc


def limit_param(params: Params, *, default: int, maximum: int, minimum: int = 1) -> int:
    """The lexicon's integer `limit`: absent → default, outside [minimum, maximum] → 400."""
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    # Lexicon integers in a query string are plain decimal; int() alone would accept "+5", " 5", "5_0".
    body = raw[1:] if raw.startswith("-") else raw
    if not body.isascii() or not body.isdigit() or len(body) > 18:
        raise _invalid("Error: limit must be an integer")
    value = int(raw)
    if value < minimum:
        raise _invalid(f"Error: limit can not be less than {minimum}")
    if value > maximum:
        raise _invalid(f"Error: limit can not be greater than {maximum}")
    return value


def did_cursor_param(params: Params) -> Did | None:
    raw = params.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        return decode_did_cursor(raw)
    except InvalidCursor as exc:
        raise _invalid("Error: malformed cursor") from exc


def int_cursor_param(params: Params) -> int | None:
    raw = params.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        return decode_int_cursor(raw)
    except InvalidCursor as exc:
        raise _invalid("Error: malformed cursor") from exc
