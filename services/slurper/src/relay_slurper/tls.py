"""The process's single TLS client context, shared by every upstream connection and probe.

One context means one loaded CA bundle (a few hundred KiB) for thousands of hosts instead of
one each. The extra CA file is a dev-mode affordance for loopback test hosts with a throwaway CA.

NOTE: asyncio's TLS transport (``asyncio.sslproto.SSLProtocol``) gives every connection a
zero-filled 256 KiB read buffer (``max_size``), which made an idle upstream TLS connection cost
~313 KiB of RSS. The buffer only bounds how many bytes one ``recv`` takes; a PDS sends a few
KiB/s, so :func:`limit_tls_read_buffer` lowers it process-wide (the slurper's own process; its
other TLS clients, the describeServer probe and listHosts poll, are rare and small).
"""

from __future__ import annotations

import asyncio.sslproto
import ssl
from typing import Final

__all__ = ["TLS_READ_BUFFER_BYTES", "client_ssl_context", "limit_tls_read_buffer"]

TLS_READ_BUFFER_BYTES: Final = 4 * 1024
"""Per-connection TLS read buffer. Measured at 300 idle hosts: 256 KiB (asyncio's default) →
313 KiB RSS per connection, 16 KiB → 74, 8 KiB → 64, 4 KiB → 59. A 5 MB frame then takes ~1,200
``recv`` calls (~1-2 ms); typical frames of a few KiB take one or two."""


def limit_tls_read_buffer(size_bytes: int = TLS_READ_BUFFER_BYTES) -> None:
    """Shrink asyncio's per-connection TLS read buffer for connections made from now on."""
    if size_bytes < 1024:
        raise ValueError("a TLS read buffer below 1 KiB only adds syscalls")
    asyncio.sslproto.SSLProtocol.max_size = size_bytes


def client_ssl_context(extra_ca_file: str = "") -> ssl.SSLContext:
    """System trust store plus ``extra_ca_file`` (PEM) when given; TLS 1.2+, verification on."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context
