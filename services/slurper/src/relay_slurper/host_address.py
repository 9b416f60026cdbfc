"""Hostnames of upstream hosts: what may be followed, and where its endpoints are.

Pure rules (no DNS; :mod:`relay_slurper.address_policy` checks resolved addresses). A host is
named the way the indexer stores it: lower-case DNS name, no scheme, no path. In production it
must parse as a handle (a DNS name of two or more labels whose TLD is not numeric, so IP
literals are refused), carry no port and not end in a TLD atproto reserves (``.local``,
``.internal``...). Dev mode adds exactly one relaxation: ``localhost:PORT``, reached over plain
``ws://``/``http://`` unless a caller asks for TLS (the memory benchmark does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from relay_core.errors import InvalidSyntax
from relay_core.syntax.handle import handle_tld_is_disallowed, normalize_handle

from relay_slurper.errors import HostBanned, HostRefused

__all__ = ["HostAddress", "check_not_banned", "matches_domain", "parse_host"]

_LOCALHOST: Final = "localhost"
_TLS_SCHEMES: Final = ("https://", "wss://")
_PLAIN_SCHEMES: Final = ("http://", "ws://")
_SUBSCRIBE_PATH: Final = "/xrpc/com.atproto.sync.subscribeRepos"


@dataclass(frozen=True, slots=True)
class HostAddress:
    """A host that passed :func:`parse_host`.

    Attributes:
        hostname: The key everywhere (store, metrics-free logs, Nats-Msg-Id): ``pds.example.com``
            or, in dev mode, ``localhost:2583``.
        dns_name: The name to resolve and to check TLS certificates against.
        port: Explicit port, or None for the scheme's default.
        tls: ``wss``/``https`` when true, plain ``ws``/``http`` (dev mode only) when false.
    """

    hostname: str
    dns_name: str
    port: int | None
    tls: bool

    @property
    def http_base(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.hostname}"

    def subscribe_url(self, cursor: int | None) -> str:
        """The subscribeRepos URL, resuming after ``cursor`` when one is known."""
        scheme = "wss" if self.tls else "ws"
        query = f"?{urlencode({'cursor': cursor})}" if cursor is not None else ""
        return f"{scheme}://{self.hostname}{_SUBSCRIBE_PATH}{query}"

    @property
    def connect_port(self) -> int:
        if self.port is not None:
            return self.port
        return 443 if self.tls else 80


def parse_host(raw: str, *, dev_mode: bool, tls: bool | None = None) -> HostAddress:
    """Parse what a requestCrawl caller, operator or upstream relay called a host.

    ``https://``/``wss://`` prefixes are accepted and dropped; ``http://``/``ws://`` only in dev
    mode. A trailing dot or slash is dropped; any other path is refused.

    Args:
        raw: The hostname as given.
        dev_mode: Allow ``localhost:PORT`` and plain-text schemes.
        tls: Force TLS on or off for ``localhost`` in dev mode (default: off unless an https or
            wss scheme was given). Public hosts always use TLS.

    Raises:
        HostRefused: reason ``bad_hostname``, ``port_not_allowed``, ``plaintext_not_allowed``
            or ``reserved_tld``.
    """
    text = raw.strip()
    lowered = text.lower()
    scheme_tls: bool | None = None
    for prefix in _TLS_SCHEMES:
        if lowered.startswith(prefix):
            text, scheme_tls = text[len(prefix) :], True
    for prefix in _PLAIN_SCHEMES:
        if lowered.startswith(prefix):
            if not dev_mode:
                raise HostRefused(f"plain-text scheme refused: {raw[:80]!r}", reason="plaintext_not_allowed")
            text, scheme_tls = text[len(prefix) :], False
    text = text.rstrip("/").rstrip(".").lower()
    if any(c in text for c in "/?#@[]"):
        raise HostRefused(f"not a bare hostname: {raw[:80]!r}", reason="bad_hostname")
    name, sep, port_text = text.partition(":")
    if sep:
        if not (dev_mode and name == _LOCALHOST):
            raise HostRefused(f"ports are not allowed: {raw[:80]!r}", reason="port_not_allowed")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise HostRefused(f"bad port: {raw[:80]!r}", reason="bad_hostname")
        use_tls = bool(scheme_tls) if tls is None else tls
        return HostAddress(f"{_LOCALHOST}:{int(port_text)}", _LOCALHOST, int(port_text), use_tls)
    try:
        handle = normalize_handle(name)
    except InvalidSyntax as exc:
        raise HostRefused(f"not a hostname: {raw[:80]!r}", reason="bad_hostname") from exc
    if handle_tld_is_disallowed(handle) and not dev_mode:
        raise HostRefused(f"reserved top-level domain: {raw[:80]!r}", reason="reserved_tld")
    use_tls = True if not dev_mode else (scheme_tls is not False if tls is None else tls)
    return HostAddress(str(handle), str(handle), None, use_tls)


def matches_domain(hostname: str, suffixes: frozenset[str]) -> bool:
    """True when ``hostname`` is one of ``suffixes`` or a name under one (``a.b.example.com``)."""
    name = hostname.split(":", 1)[0]
    labels = name.split(".")
    return any(".".join(labels[i:]) in suffixes for i in range(len(labels)))


def check_not_banned(hostname: str, banned_suffixes: frozenset[str]) -> None:
    """Raise :class:`HostBanned` (reason ``domain_banned``) for a banned host."""
    if matches_domain(hostname, banned_suffixes):
        raise HostBanned(f"{hostname} is under a banned domain", reason="domain_banned")
