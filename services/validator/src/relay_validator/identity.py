"""What the validator needs from an account's DID document, and why a resolution failed.

Built from the resolver's answers in `resolver_client`; judged in `judge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from relay_core.key_history import KeyPeriod
from relay_core.keys import PublicKey
from relay_core.syntax.did import Did

__all__ = ["AccountIdentity", "FailureKind", "IdentityFailure", "endpoint_host"]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def endpoint_host(endpoint: str) -> str | None:
    """The hostname (with a non-default port) of a PDS endpoint URL, lower case.

    This is how a raw frame's `host` is spelled by the slurper (`pds.example.com`,
    `localhost:2583` in dev), so the two compare with `==`.
    """
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return host
    return f"{host}:{port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountIdentity:
    """A resolved DID: current signing key, PDS host, claimed handle."""

    did: Did
    signing_key: PublicKey
    pds_host: str | None
    """`endpoint_host` of the `#atproto_pds` service; None when the document names no PDS."""
    handle: str | None
    """Handle claimed by the document (lower case), or None."""
    handle_verified: bool
    """The resolver checked that the handle resolves back to the DID."""
    resolved_at_us: int
    key_history: tuple[KeyPeriod, ...] | None = None
    """The DID's earlier keys (PLC audit log), fetched only after a commit failed with the
    current key; None until then, empty when the DID has none to offer."""


class FailureKind(StrEnum):
    """Resolution failures. Only `retry` ones stall the partition; the others drop the event."""

    NOT_FOUND = "not_found"
    TOMBSTONED = "tombstoned"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"

    @property
    def retry(self) -> bool:
        return self is FailureKind.UNREACHABLE


@dataclass(frozen=True, slots=True)
class IdentityFailure:
    """The resolver answered, but not with a usable identity."""

    kind: FailureKind
    message: str
