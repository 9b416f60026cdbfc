"""Seed the host list from an upstream relay's ``com.atproto.sync.listHosts``, and re-poll it.

A fresh relay knows no PDS; the upstream (``bsky.network`` by default) lists thousands. A poll
pages through the list and sorts every entry, cheapest first:

1. the upstream reports it ``banned`` or ``offline``: skipped;
2. we already know it (stored with any status, or followed): skipped, no probe, no gRPC call
   (the known set and the domain bans are read once per poll), so a re-poll costs one listing; a host an
   operator kicked (idle) or banned stays that way;
3. otherwise it goes through the same admission as any other host (bans, SSRF, describeServer
   probe with its deadline) minus the public switch and the daily quota, ``admit_concurrency``
   hosts at a time, so one slow host no longer holds up the rest.

Each poll ends with one summary line (``upstream hosts polled``): admitted, already known,
skipped by upstream status, refused by reason, failed. The poller can be switched off (empty
``RELAY_SLURPER_UPSTREAM_RELAY``), as tests and dev do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

import httpx

from relay_slurper.admission import AdmissionSource, HostAdmission
from relay_slurper.errors import HostRefused
from relay_slurper.host_address import parse_host
from relay_slurper.host_registry import HostRegistry
from relay_slurper.host_store import HostStore

__all__ = ["PollSummary", "UpstreamHost", "UpstreamPoller", "list_upstream_hosts"]

logger = logging.getLogger(__name__)

_PATH: Final = "/xrpc/com.atproto.sync.listHosts"
_PAGE: Final = 1000
_MAX_PAGES: Final = 1000
_SKIPPED_STATUSES: Final = frozenset({"banned", "offline"})
_LISTING_TIMEOUT_SECONDS: Final = 30.0
_RETRY_SECONDS: Final = 60.0
"""A poll whose listing failed is retried this soon (or at the poll interval if shorter)."""


@dataclass(frozen=True, slots=True)
class UpstreamHost:
    """One ``#host`` of a listHosts page: the hostname as given and its status (may be empty)."""

    hostname: str
    status: str


@dataclass(slots=True)
class PollSummary:
    """What one poll did with each listed host."""

    listed: int = 0
    admitted: int = 0
    already_known: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """By the upstream's status (``banned``, ``offline``)."""
    refused: Counter[str] = field(default_factory=Counter)
    """By :class:`HostRefused` reason (``bad_hostname``, ``probe_failed``, ``probe_timeout``...)."""
    failed: int = 0
    """Admissions that failed for another reason (indexer unreachable...); tried again next poll."""
    error: str = ""
    """Why the listing (or the known set) could not be read to the end; empty when it was."""
    seconds: float = 0.0


async def list_upstream_hosts(client: httpx.AsyncClient, base_url: str) -> AsyncIterator[UpstreamHost]:
    """Every host the upstream lists, page by page (lexicon ``com.atproto.sync.listHosts``)."""
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params: dict[str, str | int] = {"limit": _PAGE}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(base_url + _PATH, params=params)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("listHosts answer is not a JSON object")
        hosts = document.get("hosts")
        for host in hosts if isinstance(hosts, list) else []:
            if isinstance(host, dict) and isinstance(host.get("hostname"), str):
                status = host.get("status")
                yield UpstreamHost(host["hostname"], status if isinstance(status, str) else "")
        cursor = document.get("cursor")
        if not isinstance(cursor, str) or not cursor:
            return


class UpstreamPoller:
    """Admits the upstream relay's hosts now and every ``interval_seconds``.

    Args:
        admission: Checks and follows each new host.
        store: Durable host state (the known set is read from it once per poll).
        registry: Followed hosts (also known).
        upstream: The upstream relay's hostname (``http://localhost:PORT`` in dev mode).
        dev_mode: ``RELAY_DEV_MODE`` relaxations.
        ssl_context: The process's one TLS context.
        admit_concurrency: Admissions (DNS + probe + store) in flight at once.
    """

    def __init__(
        self,
        admission: HostAdmission,
        store: HostStore,
        registry: HostRegistry,
        *,
        upstream: str,
        dev_mode: bool,
        ssl_context: ssl.SSLContext,
        admit_concurrency: int,
    ) -> None:
        if admit_concurrency < 1:
            raise ValueError("admit_concurrency must be >= 1")
        self._admission = admission
        self._store = store
        self._registry = registry
        self._upstream = upstream
        self._base_url = parse_host(upstream, dev_mode=dev_mode).http_base
        self._dev_mode = dev_mode
        self._ssl_context = ssl_context
        self._concurrency = admit_concurrency
        self._lock = asyncio.Lock()
        self.last_summary: PollSummary | None = None
        """The latest finished poll's summary (None before the first)."""

    async def run(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """Poll now and every ``interval_seconds`` until ``stop`` (a failed listing sooner)."""
        while not stop.is_set():
            summary = await self.poll_once()
            wait = interval_seconds
            if summary.error:
                wait = min(interval_seconds, _RETRY_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def poll_once(self) -> PollSummary:
        """One pass over the upstream's list; logs and returns its summary."""
        async with self._lock:
            started = time.monotonic()
            summary = PollSummary()
            try:
                async with httpx.AsyncClient(
                    verify=self._ssl_context, timeout=_LISTING_TIMEOUT_SECONDS, trust_env=False
                ) as client:
                    await self._poll(client, summary)
            except Exception as exc:  # the store's known set could not be read
                summary.error = repr(exc)
            summary.seconds = round(time.monotonic() - started, 3)
            self.last_summary = summary
            self._log(summary)
            return summary

    async def _poll(self, client: httpx.AsyncClient, summary: PollSummary) -> None:
        known = {record.hostname for record in await self._store.list_hosts()}
        bans = await self._store.list_domain_bans()
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=2 * self._concurrency)
        async with asyncio.TaskGroup() as group:
            workers = [
                group.create_task(self._admit_from(queue, bans, summary)) for _ in range(self._concurrency)
            ]
            try:
                async for host in list_upstream_hosts(client, self._base_url):
                    summary.listed += 1
                    if host.status in _SKIPPED_STATUSES:
                        summary.skipped[host.status] += 1
                        continue
                    try:
                        hostname = parse_host(host.hostname, dev_mode=self._dev_mode).hostname
                    except HostRefused:
                        hostname = ""  # admission refuses it again, counting and logging why
                    if hostname in known or self._registry.is_following(hostname):
                        summary.already_known += 1
                        continue
                    if hostname:
                        known.add(hostname)  # listed twice: admitted once
                    await queue.put(host.hostname)
            except (httpx.HTTPError, ValueError) as exc:
                summary.error = repr(exc)  # what was listed so far is still admitted
            await queue.join()
            for worker in workers:
                worker.cancel()

    async def _admit_from(
        self, queue: asyncio.Queue[str], bans: frozenset[str], summary: PollSummary
    ) -> None:
        while True:
            hostname = await queue.get()
            try:
                if await self._admission.admit(hostname, AdmissionSource.UPSTREAM, domain_bans=bans):
                    summary.admitted += 1
                else:
                    summary.already_known += 1
            except HostRefused as exc:
                summary.refused[exc.reason] += 1  # counted and logged by admission
            except Exception as exc:
                summary.failed += 1
                logger.warning(
                    "upstream host admission failed", extra={"host": hostname[:100], "error": repr(exc)}
                )
            finally:
                queue.task_done()

    def _log(self, summary: PollSummary) -> None:
        extra = {
            "upstream": self._upstream,
            "listed": summary.listed,
            "admitted": summary.admitted,
            "already_known": summary.already_known,
            "skipped": dict(summary.skipped),
            "refused": dict(summary.refused),
            "failed": summary.failed,
            "seconds": summary.seconds,
        }
        if summary.error:
            logger.warning("upstream hosts poll incomplete", extra={**extra, "error": summary.error})
        else:
            logger.info("upstream hosts polled", extra=extra)
