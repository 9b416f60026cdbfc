"""Why a DID did not resolve.

ResolutionFailed              raised by a document source; carries a `FailureKind`
    (the resolver turns it into a `Failure` outcome, so no exception crosses the gRPC boundary)

`FailureKind` is the bounded set used both for the per-DID error code on the wire and as the
`outcome` metric label. Problems parsing the document itself come from `relay_core.errors`
(`InvalidIdentity`, `InvalidKey`, ...) and are mapped to `INVALID_DOCUMENT`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureKind", "ResolutionFailed"]


class FailureKind(StrEnum):
    """What went wrong for one DID. Values double as metric labels."""

    INVALID_DID = "invalid_did"
    """Bad syntax, an unsupported method, or a did:web host this resolver refuses to contact."""
    NOT_FOUND = "not_found"
    """The directory or web host says the DID does not exist."""
    TOMBSTONED = "tombstoned"
    """The DID was deactivated in its directory (HTTP 410)."""
    INVALID_DOCUMENT = "invalid_document"
    """A document came back but is too large, not JSON, or lacks a usable key or PDS endpoint."""
    UNREACHABLE = "unreachable"
    """Network failure, timeout, 429 or 5xx: worth retrying soon."""
    OVERLOADED = "overloaded"
    """Too many fetches already queued; the caller should retry later."""


class ResolutionFailed(Exception):
    """A document source could not produce a document for a DID."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
