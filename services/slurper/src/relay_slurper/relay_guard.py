"""Relay-loop guard: never follow another relay as if it were a PDS.

A relay re-broadcasts every PDS; following one as a host would feed the whole network back in
under the wrong authority (and, between two relays following each other, loop forever). Relays
name themselves in the HTTP ``Server`` header of their responses, so a host whose
describeServer probe or WebSocket handshake answers with a relay's product name is banned.
"""

from __future__ import annotations

from typing import Final

from relay_slurper.errors import HostBanned

__all__ = ["RELAY_SERVER_PRODUCTS", "check_not_relay", "is_relay_server_header"]

RELAY_SERVER_PRODUCTS: Final = frozenset({"atproto-relay", "indigo-relay", "indigo", "bigsky"})
"""Product tokens (before any ``/version``) that identify relay software."""


def is_relay_server_header(value: str | None) -> bool:
    """True when a ``Server`` header value names relay software (any of its product tokens)."""
    if not value:
        return False
    for token in value.lower().split():
        product = token.split("/", 1)[0].strip("();,")
        if product in RELAY_SERVER_PRODUCTS:
            return True
    return False


def check_not_relay(server_header: str | None) -> None:
    """Raise :class:`HostBanned` (reason ``relay_loop``) when the header names a relay."""
    if is_relay_server_header(server_header):
        raise HostBanned(f"host identifies as a relay (Server: {server_header!r})", reason="relay_loop")
