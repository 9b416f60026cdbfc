"""AT identifiers: the `handle or DID` that names an account in XRPC parameters and AT-URIs."""

from __future__ import annotations

from typing import TypeAlias

from relay_core.syntax.did import Did, parse_did
from relay_core.syntax.handle import Handle, parse_handle

__all__ = ["AtIdentifier", "parse_at_identifier"]

AtIdentifier: TypeAlias = Did | Handle
"""Either kind; `ident.startswith("did:")` tells which."""


def parse_at_identifier(raw: str) -> AtIdentifier:
    """Parse a DID if the string starts with `did:`, otherwise a handle.

    A handle can never contain `:`, so the prefix decides unambiguously.

    Raises:
        InvalidSyntax: with the reason from `parse_did` or `parse_handle`.
    """
    if raw.startswith("did:"):
        return parse_did(raw)
    return parse_handle(raw)
