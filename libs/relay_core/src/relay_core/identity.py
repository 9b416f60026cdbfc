"""From a DID document to the facts a relay needs: signing key, PDS endpoint, claimed handle.

Nothing here fetches anything; the resolver service gets the document and hands it in.

Contract of `parse_did_document`:

- Always checks: the document `id` equals the DID; a verification method with id `#atproto` or
  `<did>#atproto` exists and its key parses (Multikey or a legacy 2019 type); if a service with id
  `#atproto_pds`/`<did>#atproto_pds` and type `AtprotoPersonalDataServer` exists, its endpoint is
  an `http(s)://host[:port]` URL with no query, fragment or credentials.
- Does not check (the caller must): that the claimed handle resolves back to the DID
  (bidirectional verification), or that the document is the current one.

An `alsoKnownAs` handle that fails the syntax check is treated as absent (`handle=None`), as the
reference implementations do: a bad handle claim does not make the signing key unusable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relay_core.errors import InvalidIdentity, InvalidKey, InvalidSyntax
from relay_core.keys import PublicKey, parse_multibase_key
from relay_core.syntax.did import Did
from relay_core.syntax.handle import Handle, normalize_handle

__all__ = ["PDS_SERVICE_TYPE", "Identity", "parse_did_document"]

PDS_SERVICE_TYPE = "AtprotoPersonalDataServer"

_SIGNING_KEY_FRAGMENT = "#atproto"
_PDS_SERVICE_FRAGMENT = "#atproto_pds"
_HANDLE_PREFIX = "at://"


@dataclass(frozen=True, slots=True)
class Identity:
    """What a DID document says about an account (as of when it was fetched)."""

    did: Did
    signing_key: PublicKey
    pds_endpoint: str | None
    """e.g. `https://pds.example.com`; `None` if the document names no PDS."""
    handle: Handle | None
    """Claimed, normalised (lower-case) handle; not yet verified to point back at `did`."""


def parse_did_document(doc: Mapping[str, Any], did: Did) -> Identity:
    """Extract the atproto identity from a DID document (already JSON-decoded).

    Args:
        doc: the decoded DID document.
        did: the DID that was resolved; the document must be about exactly this DID.

    Raises:
        InvalidIdentity: reason `did_mismatch`, `bad_document`, `no_signing_key`,
            `bad_signing_key` or `bad_pds_endpoint`.
    """
    if doc.get("id") != did:
        raise InvalidIdentity(
            f"DID document id {str(doc.get('id'))[:64]!r} does not match {did!r}", reason="did_mismatch"
        )
    return Identity(
        did=did,
        signing_key=_signing_key(doc, did),
        pds_endpoint=_pds_endpoint(doc, did),
        handle=_claimed_handle(doc),
    )


def _signing_key(doc: Mapping[str, Any], did: Did) -> PublicKey:
    method = _find_entry(doc, "verificationMethod", did, _SIGNING_KEY_FRAGMENT)
    if method is None:
        raise InvalidIdentity("DID document has no #atproto verification method", reason="no_signing_key")
    multibase = method.get("publicKeyMultibase")
    key_type = method.get("type")
    if not isinstance(multibase, str) or not isinstance(key_type, str):
        raise InvalidIdentity(
            "#atproto verification method lacks a string type/publicKeyMultibase", reason="bad_signing_key"
        )
    try:
        return parse_multibase_key(multibase, key_type)
    except InvalidKey as exc:
        raise InvalidIdentity(f"#atproto key unusable: {exc}", reason="bad_signing_key") from exc


def _pds_endpoint(doc: Mapping[str, Any], did: Did) -> str | None:
    service = _find_entry(doc, "service", did, _PDS_SERVICE_FRAGMENT)
    if service is None or service.get("type") != PDS_SERVICE_TYPE:
        return None
    endpoint = service.get("serviceEndpoint")
    if not isinstance(endpoint, str) or not _is_plain_http_url(endpoint):
        raise InvalidIdentity(
            f"#atproto_pds endpoint is not an http(s) origin: {str(endpoint)[:64]!r}",
            reason="bad_pds_endpoint",
        )
    return endpoint


def _claimed_handle(doc: Mapping[str, Any]) -> Handle | None:
    aliases = doc.get("alsoKnownAs")
    if aliases is None:
        return None
    if not isinstance(aliases, Sequence) or isinstance(aliases, str):
        raise InvalidIdentity("alsoKnownAs is not a list", reason="bad_document")
    for alias in aliases:
        if isinstance(alias, str) and alias.startswith(_HANDLE_PREFIX):
            try:
                return normalize_handle(alias[len(_HANDLE_PREFIX) :])
            except InvalidSyntax:
                return None
    return None


def _find_entry(doc: Mapping[str, Any], key: str, did: Did, fragment: str) -> Mapping[str, Any] | None:
    """The first entry of `doc[key]` whose id is `fragment` or `did + fragment`."""
    entries = doc.get(key)
    if entries is None:
        return None
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise InvalidIdentity(f"{key} is not a list", reason="bad_document")
    full_id = did + fragment
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("id") in (fragment, full_id):
            return entry
    return None


def _is_plain_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and port_ok
        and parts.username is None
        and parts.password is None
        and not parts.query
        and not parts.fragment
        and url.isascii()
        and not any(c.isspace() for c in url)
    )
