"""Loopback ports for test processes that bind them later.

Binding port 0 and releasing it hands out a port from the kernel's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range, 32768–60999 here), which any outbound connection made in
the meantime may take before the child process binds it. Ports are drawn instead from below that
range, checked free, and never handed out twice in one test session.
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_port"]

_LOW, _HIGH = 20_000, 32_000
_handed_out: set[int] = set()
_random = random.Random()


def free_port() -> int:
    """A loopback port nothing listens on now, not handed out before in this process."""
    for _ in range(1000):
        port = _random.randrange(_LOW, _HIGH)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {_LOW}-{_HIGH}")
