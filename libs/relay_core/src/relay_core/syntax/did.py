"""DIDs: the generic W3C/atproto syntax, and the stricter forms a relay accepts.

A DID is case-sensitive in general, so `parse_did` never changes its input. The relay only deals
with `did:plc` and `did:web`; `parse_relay_did` refuses every other method and checks the
method-specific identifier properly (24 base32 characters for PLC, a hostname for web).

Normalisation choice: the only part of a DID the specs let us fold is a did:web hostname (DNS names
are case-insensitive). `parse_relay_did` *refuses* an upper-case did:web host rather than silently
folding it, so one account can never appear under two spellings in the relay's state (its DID
document would carry the lower-case id anyway and fail the id check). `normalize_did` is for human
input (admin CLI, requestCrawl): it folds the did:web host to lower case and upper-cases
percent-escapes, and returns everything else unchanged.
"""

from __future__ import annotations

import re
from typing import Final, NewType

from relay_core.errors import InvalidSyntax

__all__ = [
    "MAX_DID_LENGTH",
    "Did",
    "did_method",
    "normalize_did",
    "parse_did",
    "parse_relay_did",
]

Did = NewType("Did", str)
"""A string that passed `parse_did` (or `parse_relay_did`)."""

MAX_DID_LENGTH = 2048
"""atproto caps DIDs at 2 KiB, far below the generic W3C limit."""

# A `%` must introduce a two-digit hex escape, and the identifier cannot end with `:` or `%`.
# Almost no real DID has a `%`, so a simpler pattern without the escape alternation runs first.
_DID_PLAIN_RE = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:-]*[a-zA-Z0-9._-]")
DID_PLAIN_PATTERN: Final = _DID_PLAIN_RE
"""A full match (with the length limit) is a valid DID; a miss may still be one (`%` escapes)."""
_DID_RE = re.compile(r"did:[a-z]+:(?:[a-zA-Z0-9._:-]|%[0-9a-fA-F]{2})*(?:[a-zA-Z0-9._-]|%[0-9a-fA-F]{2})")
_PLC_RE = re.compile(r"did:plc:[a-z2-7]{24}")
# did:web in atproto is hostname-only (no paths). A port (`%3A1234`) is allowed for localhost only,
# which is what the dev stack and tests use.
_WEB_RE = re.compile(
    r"did:web:(?:"
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"|localhost(?:%3[aA][0-9]{1,5})?)"
)
_MAX_HOSTNAME_LENGTH = 253


def parse_did(raw: str) -> Did:
    """Check the generic atproto DID syntax (any method).

    Args:
        raw: the candidate string, used as-is (no trimming, no case folding).

    Returns:
        The same string, typed as `Did`.

    Raises:
        InvalidSyntax: reason `did_too_long` or `bad_did`.
    """
    if len(raw) > MAX_DID_LENGTH:
        raise InvalidSyntax(f"DID longer than {MAX_DID_LENGTH} chars", reason="did_too_long")
    if _DID_PLAIN_RE.fullmatch(raw) is None and _DID_RE.fullmatch(raw) is None:
        raise InvalidSyntax(f"not a DID: {raw[:64]!r}", reason="bad_did")
    return Did(raw)


def did_method(did: Did) -> str:
    """The method name, e.g. `plc` for `did:plc:...`."""
    return did[4 : did.index(":", 4)]


def parse_relay_did(raw: str) -> Did:
    """Parse a DID the relay can host: `did:plc` or canonical (lower-case) `did:web`.

    This is the per-event check for `repo`/`did` fields, so it tries the PLC pattern first.

    Raises:
        InvalidSyntax: reasons `bad_did_plc`, `bad_did_web`, `did_web_not_normalized`,
            `unsupported_did_method`, or those of `parse_did`.
    """
    if raw.startswith("did:plc:"):
        if _PLC_RE.fullmatch(raw) is None:
            raise InvalidSyntax(f"not a did:plc: {raw[:64]!r}", reason="bad_did_plc")
        return Did(raw)
    if raw.startswith("did:web:"):
        if len(raw) > 8 + _MAX_HOSTNAME_LENGTH + 8 or _WEB_RE.fullmatch(raw) is None:
            raise InvalidSyntax(f"not a hostname did:web: {raw[:64]!r}", reason="bad_did_web")
        if _normalize_web(raw) != raw:
            raise InvalidSyntax(
                f"did:web hostname must be lower case: {raw[:64]!r}", reason="did_web_not_normalized"
            )
        return Did(raw)
    did = parse_did(raw)
    raise InvalidSyntax(f"DID method {did_method(did)!r} is not supported", reason="unsupported_did_method")


def normalize_did(raw: str) -> Did:
    """Parse a DID from human input and return its canonical spelling.

    Only a did:web hostname is folded to lower case (and a `%3a` port escape to `%3A`); any other
    DID is returned unchanged because DIDs are case-sensitive in general.

    Raises:
        InvalidSyntax: as `parse_did`.
    """
    did = parse_did(raw)
    if did.startswith("did:web:"):
        return Did(_normalize_web(did))
    return did


def _normalize_web(did: str) -> str:
    return did.lower().replace("%3a", "%3A")
