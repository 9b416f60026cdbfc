"""The process's single TLS client context, shared by every upstream connection and probe.

One context means one loaded CA bundle (a few hundred KiB) for thousands of hosts instead of
one each. The extra CA file is a dev-mode affordance for loopback test hosts with a throwaway CA.
"""

from __future__ import annotations

import ssl

__all__ = ["client_ssl_context"]


def client_ssl_context(extra_ca_file: str = "") -> ssl.SSLContext:
    """System trust store plus ``extra_ca_file`` (PEM) when given; TLS 1.2+, verification on."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context
