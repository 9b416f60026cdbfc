"""did:web: where a document lives, and which hosts the resolver will contact.

atproto allows only hostname did:webs (no paths), so the document is always at
`https://<host>/.well-known/did.json`. Two rules keep the resolver from being turned against the
network it runs in (SSRF):

- Outside dev mode only `https` is used and a host whose name resolves to any loopback, private,
  link-local or otherwise non-global address is refused before a connection is made.
- In dev mode, `did:web:localhost%3A<port>` maps to `http://localhost:<port>/...`, which is how the
  local dev stack and tests publish documents; the address check is skipped.

The check runs twice on purpose: `DidWebSource` looks the name up first, so a refused host gets
the precise `INVALID_DID` answer, and `PublicAddressResolver` (the HTTP connector's resolver outside
dev mode) checks the very addresses the connection will use, so a DNS answer that changes between
the two lookups (rebinding) still cannot reach an internal address; it fails as UNREACHABLE.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from relay_core.syntax import Did

from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.http_client import DocumentFetcher

__all__ = [
    "DidWebSource",
    "PublicAddressResolver",
    "did_web_document_url",
    "did_web_host",
    "is_public_address",
    "lookup_addresses",
]

AddressLookup = Callable[[str], Awaitable[list[str]]]
"""Returns every IP address a hostname resolves to."""

_PREFIX = "did:web:"


def did_web_host(did: Did) -> tuple[str, int | None]:
    """Split a did:web into its hostname and optional port (`%3A` is the escaped `:`).

    Raises:
        ResolutionFailed: INVALID_DID when `did` is not a hostname did:web.
    """
    if not did.startswith(_PREFIX):
        raise ResolutionFailed(FailureKind.INVALID_DID, "not a did:web")
    ident = did[len(_PREFIX) :]
    if ":" in ident:
        raise ResolutionFailed(FailureKind.INVALID_DID, "did:web with a path is not allowed")
    host, sep, port_text = ident.replace("%3a", "%3A").partition("%3A")
    if not host or "%" in host:
        raise ResolutionFailed(FailureKind.INVALID_DID, "did:web host is not a hostname")
    if not sep:
        return host.lower(), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ResolutionFailed(FailureKind.INVALID_DID, "did:web port is not a port number")
    return host.lower(), int(port_text)


def did_web_document_url(did: Did, *, dev_mode: bool) -> str:
    """The URL of the DID document for a did:web.

    Args:
        did: a did:web.
        dev_mode: allow `did:web:localhost%3A<port>` over plain http.

    Raises:
        ResolutionFailed: INVALID_DID for malformed DIDs, an explicit port on anything but
            localhost, or a localhost DID outside dev mode.
    """
    host, port = did_web_host(did)
    if host == "localhost":
        if not dev_mode:
            raise ResolutionFailed(FailureKind.INVALID_DID, "did:web on localhost outside dev mode")
        authority = "localhost" if port is None else f"localhost:{port}"
        return f"http://{authority}/.well-known/did.json"
    if port is not None:
        raise ResolutionFailed(FailureKind.INVALID_DID, "did:web ports are only allowed on localhost")
    if _is_ip_literal(host):
        raise ResolutionFailed(FailureKind.INVALID_DID, "did:web host must be a name, not an IP")
    return f"https://{host}/.well-known/did.json"


def is_public_address(address: str) -> bool:
    """True when `address` is a globally routable unicast IP (not loopback, private, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def lookup_addresses(host: str) -> list[str]:
    """Resolve `host` with the event loop's resolver (all address families)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class PublicAddressResolver(AbstractResolver):
    """An aiohttp resolver that refuses names resolving to any non-public address.

    Args:
        exempt_hosts: names the operator configured (the PLC directory), which may be internal.
        inner: the resolver doing the lookups (aiohttp's threaded getaddrinfo by default).
    """

    def __init__(
        self, exempt_hosts: frozenset[str] = frozenset(), inner: AbstractResolver | None = None
    ) -> None:
        self._exempt = frozenset(host.lower() for host in exempt_hosts)
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() not in self._exempt and not all(is_public_address(r["host"]) for r in results):
            raise OSError(f"{host} resolves to a non-public address; refused")
        return results

    async def close(self) -> None:
        await self._inner.close()


class DidWebSource:
    """Fetches did:web documents under the rules above.

    Args:
        fetcher: the shared pooled HTTP client.
        dev_mode: allow localhost did:webs over http and skip the public-address check.
        lookup: hostname → addresses; injected so the rule is testable without DNS.
    """

    def __init__(
        self,
        fetcher: DocumentFetcher,
        *,
        dev_mode: bool,
        lookup: AddressLookup = lookup_addresses,
    ) -> None:
        self._fetcher = fetcher
        self._dev_mode = dev_mode
        self._lookup = lookup

    async def fetch_document(self, did: Did) -> dict[str, Any]:
        url = did_web_document_url(did, dev_mode=self._dev_mode)
        if not self._dev_mode:
            await self._check_public(did_web_host(did)[0])
        return await self._fetcher.fetch_json(url, source="web")

    async def _check_public(self, host: str) -> None:
        try:
            addresses = await self._lookup(host)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                raise ResolutionFailed(FailureKind.NOT_FOUND, "did:web host does not exist") from exc
            raise ResolutionFailed(FailureKind.UNREACHABLE, "did:web host lookup failed") from exc
        except OSError as exc:
            raise ResolutionFailed(FailureKind.UNREACHABLE, "did:web host lookup failed") from exc
        if not addresses:
            raise ResolutionFailed(FailureKind.NOT_FOUND, "did:web host has no addresses")
        if not all(is_public_address(address) for address in addresses):
            raise ResolutionFailed(FailureKind.INVALID_DID, "did:web host resolves to a non-public address")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
