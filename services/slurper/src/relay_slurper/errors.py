"""Errors the slurper raises on purpose.

Hierarchy::

    SlurperError
    ├── HostRefused          a host may not be followed; ``reason`` is a bounded label
    │   └── HostBanned       banned by a domain ban, by status, or as a relay loop (lexicon error name)
    └── UpstreamError        a followed host misbehaved (bad frame, error frame, handshake failure)

Every error carries a stable snake_case ``reason`` from a bounded set, used as a metric label.
"""

from __future__ import annotations

__all__ = ["HostBanned", "HostRefused", "SlurperError", "UpstreamError"]


class SlurperError(Exception):
    """Root of the slurper's own errors."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class HostRefused(SlurperError):
    """The host may not be added (bad hostname, private address, probe failed, quota...)."""


class HostBanned(HostRefused):
    """The host is banned: requestCrawl answers the lexicon's ``HostBanned`` error."""


class UpstreamError(SlurperError):
    """A connected host sent something that ends the connection."""
