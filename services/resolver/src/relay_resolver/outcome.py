"""What one DID resolution produced: an identity, or a failure with a bounded kind.

Both are cached (failures for less time), both cross the gRPC boundary as one `Resolution`, and
neither is an exception: a batch answers every DID, whatever happened to its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.identity import Identity

from relay_resolver.errors import FailureKind

__all__ = ["Failure", "Outcome", "Resolved"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A usable identity and when its document was fetched."""

    identity: Identity
    resolved_at_us: int
    """Unix microseconds of the fetch, so callers can judge how old a cached answer is."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a DID did not resolve. `message` is for humans and logs, never parsed."""

    kind: FailureKind
    message: str


Outcome = Resolved | Failure
