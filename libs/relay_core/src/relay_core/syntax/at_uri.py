"""AT-URIs in the restricted form atproto actually uses: `at://authority[/collection[/rkey]]`.

No query, no fragment, no trailing slash, at most two path segments. That is stricter than the
generic URI grammar on purpose: it is what record references and repo paths need.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.errors import InvalidSyntax
from relay_core.syntax.at_identifier import AtIdentifier, parse_at_identifier
from relay_core.syntax.nsid import Nsid, parse_nsid
from relay_core.syntax.record_key import RecordKey, parse_record_key

__all__ = ["MAX_AT_URI_LENGTH", "AtUri", "parse_at_uri"]

MAX_AT_URI_LENGTH = 8192

_SCHEME = "at://"


@dataclass(frozen=True, slots=True)
class AtUri:
    """A parsed AT-URI. `rkey` implies `collection`."""

    authority: AtIdentifier
    collection: Nsid | None = None
    rkey: RecordKey | None = None

    def __post_init__(self) -> None:
        if self.rkey is not None and self.collection is None:
            raise InvalidSyntax("AT-URI has a record key but no collection", reason="bad_at_uri")

    def __str__(self) -> str:
        parts = [_SCHEME, self.authority]
        if self.collection is not None:
            parts += ["/", self.collection]
        if self.rkey is not None:
            parts += ["/", self.rkey]
        return "".join(parts)


def parse_at_uri(raw: str) -> AtUri:
    """Parse `at://<handle-or-did>[/<nsid>[/<record-key>]]`.

    Raises:
        InvalidSyntax: reason `at_uri_too_long`, `bad_at_uri`, or the reason of the part that
            failed (`bad_did`, `bad_handle`, `bad_nsid`, `bad_record_key`, ...).
    """
    if len(raw) > MAX_AT_URI_LENGTH:
        raise InvalidSyntax(f"AT-URI longer than {MAX_AT_URI_LENGTH} chars", reason="at_uri_too_long")
    if not raw.startswith(_SCHEME):
        raise InvalidSyntax(f"AT-URI must start with at://: {raw[:64]!r}", reason="bad_at_uri")
    parts = raw[len(_SCHEME) :].split("/")
    if len(parts) > 3:
        raise InvalidSyntax(f"AT-URI has too many path segments: {raw[:64]!r}", reason="bad_at_uri")
    authority = parse_at_identifier(parts[0])
    collection = parse_nsid(parts[1]) if len(parts) > 1 else None
    rkey = parse_record_key(parts[2]) if len(parts) > 2 else None
    return AtUri(authority, collection, rkey)
