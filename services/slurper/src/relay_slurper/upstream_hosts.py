"""Seed the host list from an upstream relay's ``com.atproto.sync.listHosts``, and re-poll it.

A fresh relay knows no PDS; the upstream (``bsky.network`` by default) lists thousands. Each
listed host goes through the same admission as any other (bans, SSRF, probe) minus the public
switch and the daily quota; hosts the upstream reports as banned or offline are skipped. The
poller can be switched off (empty ``RELAY_SLURPER_UPSTREAM_RELAY``), as tests and dev do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Final

import httpx

from relay_slurper.admission import AdmissionSource, HostAdmission
from relay_slurper.errors import HostRefused
from relay_slurper.host_address import parse_host

__all__ = ["list_upstream_hosts", "poll_upstream"]

logger = logging.getLogger(__name__)

_PATH: Final = "/xrpc/com.atproto.sync.listHosts"
_PAGE: Final = 1000
_MAX_PAGES: Final = 1000
_SKIPPED_STATUSES: Final = frozenset({"banned", "offline"})


async def list_upstream_hosts(client: httpx.AsyncClient, base_url: str) -> AsyncIterator[str]:
    """Every hostname the upstream lists (paged), skipping banned/offline ones."""
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params: dict[str, str | int] = {"limit": _PAGE}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(base_url + _PATH, params=params)
        response.raise_for_status()
        document = response.json()
        for host in document.get("hosts", []) if isinstance(document, dict) else []:
            if isinstance(host, dict) and isinstance(host.get("hostname"), str):
                if host.get("status") not in _SKIPPED_STATUSES:
                    yield host["hostname"]
        cursor = document.get("cursor") if isinstance(document, dict) else None
        if not isinstance(cursor, str) or not cursor:
            return


async def poll_upstream(
    admission: HostAdmission,
    upstream: str,
    *,
    dev_mode: bool,
    ssl_context: ssl.SSLContext,
    interval_seconds: float,
    stop: asyncio.Event,
) -> None:
    """Admit the upstream's hosts now and every ``interval_seconds`` until ``stop``."""
    address = parse_host(upstream, dev_mode=dev_mode)
    async with httpx.AsyncClient(verify=ssl_context, timeout=30.0, trust_env=False) as client:
        while not stop.is_set():
            admitted = refused = 0
            try:
                async for hostname in list_upstream_hosts(client, address.http_base):
                    if stop.is_set():
                        break
                    try:
                        admitted += await admission.admit(hostname, AdmissionSource.UPSTREAM)
                    except HostRefused:
                        refused += 1  # counted and logged by admission
            except (httpx.HTTPError, ValueError) as exc:
                logger.warning("listHosts poll failed", extra={"upstream": upstream, "error": repr(exc)})
            logger.info(
                "upstream hosts polled",
                extra={"upstream": upstream, "admitted": admitted, "refused": refused},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
