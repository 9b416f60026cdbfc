"""SSRF protection: a public relay must not be talked into connecting to its own network.

A requestCrawl caller chooses the hostname, so a name resolving to 127.0.0.1, 10.0.0.0/8, a
link-local metadata service (169.254.169.254) or any other non-global address is refused unless
dev mode is on. The check is on the resolved addresses, and the connection is then made to a
checked address (the slurper pins it), so a DNS answer cannot change between check and connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final

from relay_slurper.errors import HostRefused

__all__ = ["is_public_address", "resolve_public"]

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_RESOLVE_TIMEOUT_SECONDS: Final = 5.0


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for anything private or reserved.

    IPv4-mapped and 6to4/Teredo-wrapped IPv6 addresses are judged by the IPv4 address inside.
    """
    try:
        ip: _IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            ip = inner
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def resolve_public(dns_name: str, port: int, *, allow_private: bool) -> str:
    """Resolve ``dns_name`` and return the address to connect to.

    Args:
        dns_name: Name to resolve.
        port: Port (only passed to getaddrinfo).
        allow_private: Dev mode: accept loopback and private answers too.

    Raises:
        HostRefused: reason ``unresolvable`` or ``private_address`` (any answer non-public:
            one bad record is enough, since the OS may pick it later).
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(dns_name, port, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        raise HostRefused(f"cannot resolve {dns_name}: {exc}", reason="unresolvable") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise HostRefused(f"{dns_name} has no addresses", reason="unresolvable")
    if not allow_private:
        bad = [a for a in addresses if not is_public_address(a)]
        if bad:
            raise HostRefused(f"{dns_name} resolves to non-public {bad[0]}", reason="private_address")
    return addresses[0]
