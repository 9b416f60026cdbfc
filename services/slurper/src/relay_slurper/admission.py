"""Admitting a new host: every check before the first subscribe, in cheapest-first order.

1. hostname rules (:func:`parse_host`: a handle-shaped DNS name, no IPs, no ports but dev
   ``localhost:PORT``), 2. domain-suffix bans and a stored ``banned`` status, 3. the public
   requestCrawl switch, 4. SSRF (every resolved address public unless dev mode), 5. a
   ``describeServer`` probe, under one deadline from connect to last byte (else reason
   ``probe_timeout``), that must answer 200 with a JSON object, and whose ``Server`` header
   must not name a relay (a relay is banned on the spot: relay-loop guard), 6. the
   new-hosts-per-day quota (requestCrawl only, untrusted hosts only), then the host is stored
   active and followed. Every refusal is counted by reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import ssl
import time
from enum import StrEnum
from typing import Final

import httpx

from relay_slurper import metrics
from relay_slurper.address_policy import resolve_public
from relay_slurper.crawl_policy import NewHostQuota
from relay_slurper.errors import HostBanned, HostRefused
from relay_slurper.host_address import HostAddress, check_not_banned, matches_domain, parse_host
from relay_slurper.host_registry import HostRegistry
from relay_slurper.host_store import CrawlPolicy, HostStatus, HostStore
from relay_slurper.relay_guard import check_not_relay

__all__ = ["AdmissionSource", "HostAdmission"]

logger = logging.getLogger(__name__)

_DESCRIBE_PATH: Final = "/xrpc/com.atproto.server.describeServer"
_MAX_PROBE_BYTES: Final = 64 * 1024


class AdmissionSource(StrEnum):
    """Who asked: decides whether the public switch and the daily quota apply."""

    REQUEST_CRAWL = "request_crawl"
    OPERATOR = "operator"
    UPSTREAM = "upstream"


class HostAdmission:
    """Runs the checks and hands admitted hosts to the registry.

    Args:
        store: Durable host state (bans, hosts, crawl policy).
        registry: Followed hosts.
        ssl_context: The process's one TLS context (the probe uses it too).
        dev_mode: ``RELAY_DEV_MODE`` relaxations.
        trusted_domains: Suffixes exempt from the quota (and given higher rate limits).
        default_policy: The policy until an operator stores one.
        probe_timeout_seconds: Deadline of the whole describeServer probe (connect to last byte).
    """

    def __init__(
        self,
        store: HostStore,
        registry: HostRegistry,
        *,
        ssl_context: ssl.SSLContext,
        dev_mode: bool,
        trusted_domains: frozenset[str],
        default_policy: CrawlPolicy,
        probe_timeout_seconds: float,
    ) -> None:
        self._store = store
        self._registry = registry
        self._dev_mode = dev_mode
        self._trusted_domains = trusted_domains
        self._policy = default_policy
        self._quota = NewHostQuota()
        self._probe_timeout_seconds = probe_timeout_seconds
        self._http = httpx.AsyncClient(
            verify=ssl_context,
            timeout=probe_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "relay-slurper (atproto relay)"},
        )

    @property
    def policy(self) -> CrawlPolicy:
        return self._policy

    async def load_policy(self) -> CrawlPolicy:
        """Replace the configured default with the stored policy, if one was stored."""
        stored = await self._store.get_crawl_policy()
        if stored is not None:
            self._policy = stored
        return self._policy

    async def set_policy(self, policy: CrawlPolicy) -> CrawlPolicy:
        """Apply ``policy`` now and persist it (in memory only if the store cannot keep it)."""
        if policy.new_hosts_per_day < 0:
            raise ValueError("new_hosts_per_day must be >= 0")
        self._policy = policy
        await self._store.set_crawl_policy(policy)
        return policy

    async def close(self) -> None:
        await self._http.aclose()

    async def admit(
        self, raw_hostname: str, source: AdmissionSource, *, domain_bans: frozenset[str] | None = None
    ) -> bool:
        """Check and follow a host; False when it was already followed.

        ``domain_bans`` is the stored ban list when the caller read it already (the upstream
        poller reads it once per poll); otherwise it is read here.

        Raises:
            HostBanned: banned domain, banned host, or a relay (now stored as banned).
            HostRefused: any other check failed (``reason`` says which).
        """
        try:
            return await self._admit(raw_hostname, source, domain_bans)
        except HostRefused as exc:
            metrics.HOSTS_REFUSED_TOTAL.labels(exc.reason).inc()
            logger.info(
                "host refused",
                extra={
                    "host": raw_hostname[:100],
                    "source": source.value,
                    "reason": exc.reason,
                    "error": str(exc),
                },
            )
            raise

    async def _admit(
        self, raw_hostname: str, source: AdmissionSource, domain_bans: frozenset[str] | None
    ) -> bool:
        address = parse_host(raw_hostname, dev_mode=self._dev_mode)
        hostname = address.hostname
        if domain_bans is None:
            domain_bans = await self._store.list_domain_bans()
        check_not_banned(hostname, domain_bans)
        existing = await self._store.get_host(hostname)
        if existing is not None and existing.status is HostStatus.BANNED:
            raise HostBanned(f"{hostname} is banned", reason="host_banned")
        if source is AdmissionSource.REQUEST_CRAWL and not self._policy.public_request_crawl:
            raise HostRefused("public requestCrawl is switched off", reason="crawl_disabled")
        if self._registry.is_following(hostname):
            return False
        await resolve_public(address.dns_name, address.connect_port, allow_private=self._dev_mode)
        await self._probe(address)
        trusted = matches_domain(hostname, self._trusted_domains)
        if existing is None and source is AdmissionSource.REQUEST_CRAWL and not trusted:
            if not self._quota.try_admit(time.monotonic(), self._policy):
                raise HostRefused("new-hosts-per-day limit reached", reason="new_host_quota")
        record, created = await self._store.create_host(hostname, trusted=trusted)
        if record.status is not HostStatus.ACTIVE:
            await self._store.set_host_status(hostname, HostStatus.ACTIVE, f"re-added ({source.value})")
            record = dataclasses.replace(record, status=HostStatus.ACTIVE)
        logger.info("host admitted", extra={"host": hostname, "source": source.value, "new_host": created})
        return self._registry.follow(record, address)

    async def _probe(self, address: HostAddress) -> None:
        """describeServer must answer 200 + JSON object, from something that is not a relay."""
        url = address.http_base + _DESCRIBE_PATH
        try:
            # httpx's timeout is per read; a host dripping bytes must not hold a slot for longer.
            async with (
                asyncio.timeout(self._probe_timeout_seconds),
                self._http.stream("GET", url) as response,
            ):
                server = response.headers.get("server")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_PROBE_BYTES:
                        raise HostRefused("describeServer answer too large", reason="probe_failed")
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise HostRefused(
                f"describeServer probe timed out after {self._probe_timeout_seconds:g} s",
                reason="probe_timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise HostRefused(f"describeServer probe failed: {exc!r}", reason="probe_failed") from exc
        try:
            check_not_relay(server)
        except HostBanned as exc:
            await self._ban(address.hostname, str(exc))
            raise
        if response.status_code != 200:
            raise HostRefused(f"describeServer answered {response.status_code}", reason="probe_failed")
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise HostRefused("describeServer answer is not JSON", reason="probe_failed") from exc
        if not isinstance(document, dict):
            raise HostRefused("describeServer answer is not a JSON object", reason="probe_failed")

    async def _ban(self, hostname: str, reason: str) -> None:
        await self._store.create_host(hostname, trusted=False)
        await self._store.set_host_status(hostname, HostStatus.BANNED, reason)
