"""String syntax of atproto identifiers: parse once at the edge, then pass typed values around.

Every `parse_*` takes the raw string exactly as received (no trimming), returns a `NewType` or a
small frozen class, and raises `relay_core.errors.InvalidSyntax` with a bounded `reason`.
"""

from __future__ import annotations

from relay_core.syntax.at_identifier import AtIdentifier, parse_at_identifier
from relay_core.syntax.at_uri import MAX_AT_URI_LENGTH, AtUri, parse_at_uri
from relay_core.syntax.datetime import MAX_DATETIME_LENGTH, Datetime, parse_datetime
from relay_core.syntax.did import MAX_DID_LENGTH, Did, did_method, normalize_did, parse_did, parse_relay_did
from relay_core.syntax.handle import (
    DISALLOWED_HANDLE_TLDS,
    INVALID_HANDLE,
    MAX_HANDLE_LENGTH,
    Handle,
    handle_tld_is_disallowed,
    normalize_handle,
    parse_handle,
)
from relay_core.syntax.language import Language, parse_language
from relay_core.syntax.nsid import MAX_NSID_LENGTH, Nsid, nsid_authority, nsid_name, parse_nsid
from relay_core.syntax.record_key import MAX_RECORD_KEY_LENGTH, RecordKey, parse_record_key
from relay_core.syntax.tid import MAX_CLOCK_ID, MAX_TIMESTAMP_US, Tid, parse_tid, tid_from_time

__all__ = [
    "DISALLOWED_HANDLE_TLDS",
    "INVALID_HANDLE",
    "MAX_AT_URI_LENGTH",
    "MAX_CLOCK_ID",
    "MAX_DATETIME_LENGTH",
    "MAX_DID_LENGTH",
    "MAX_HANDLE_LENGTH",
    "MAX_NSID_LENGTH",
    "MAX_RECORD_KEY_LENGTH",
    "MAX_TIMESTAMP_US",
    "AtIdentifier",
    "AtUri",
    "Datetime",
    "Did",
    "Handle",
    "Language",
    "Nsid",
    "RecordKey",
    "Tid",
    "did_method",
    "handle_tld_is_disallowed",
    "normalize_did",
    "normalize_handle",
    "nsid_authority",
    "nsid_name",
    "parse_at_identifier",
    "parse_at_uri",
    "parse_datetime",
    "parse_did",
    "parse_handle",
    "parse_language",
    "parse_nsid",
    "parse_record_key",
    "parse_relay_did",
    "parse_tid",
    "tid_from_time",
]
