"""Every error the indexer's domain code raises.

IndexerError
├── InvalidCursor        a pagination cursor is not one this service handed out
├── InvalidUpdate        a state change is malformed (e.g. a repo head without its commit CID)
├── UnknownHost          an update names a host that was never registered
├── XrpcError            an XRPC query must fail with this status and error name
└── UpstreamError        a backfill source (relay or PDS) did not give a usable answer
    ├── InvalidPage      the body is not the lexicon's shape
    ├── UpstreamRejected a 4xx other than 429/408 (e.g. RepoNotFound): retrying will not help
    └── UpstreamUnavailable  429 / 5xx / timeouts outlasted every retry

Each carries a bounded `reason` (metric label), like `relay_core.errors`.
"""

from __future__ import annotations

__all__ = [
    "IndexerError",
    "InvalidCursor",
    "InvalidPage",
    "InvalidUpdate",
    "UnknownHost",
    "UpstreamError",
    "UpstreamRejected",
    "UpstreamUnavailable",
    "XrpcError",
]


class IndexerError(Exception):
    """Root of the indexer's errors. `reason` is a short snake_case label from a bounded set."""

    default_reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason


class InvalidCursor(IndexerError, ValueError):
    default_reason = "bad_cursor"


class InvalidUpdate(IndexerError, ValueError):
    default_reason = "bad_update"


class UnknownHost(IndexerError, LookupError):
    default_reason = "unknown_host"

    def __init__(self, hostnames: list[str]) -> None:
        super().__init__(f"hosts not registered: {', '.join(sorted(hostnames))}")
        self.hostnames = sorted(hostnames)


class XrpcError(IndexerError):
    """Becomes the XRPC error body `{"error": name, "message": message}` with `status`."""

    default_reason = "xrpc_error"

    def __init__(self, name: str, message: str, *, status: int = 400) -> None:
        super().__init__(message, reason=name)
        self.name = name
        self.message = message
        self.status = status


class UpstreamError(IndexerError):
    """A backfill source did not give a usable answer; the work item keeps its cursor."""

    default_reason = "upstream_error"


class InvalidPage(UpstreamError):
    default_reason = "invalid_page"


class UpstreamRejected(UpstreamError):
    """A 4xx answer other than 429/408: the request itself is refused, so it is not retried."""

    default_reason = "rejected"

    def __init__(self, message: str, *, status: int, error: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class UpstreamUnavailable(UpstreamError):
    default_reason = "unavailable"
