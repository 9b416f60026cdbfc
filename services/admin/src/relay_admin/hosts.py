"""Host operations: list, add, kick, ban, limits, trust, domain-suffix bans, crawl policy.

State lives in the indexer (host rows, bans) and the slurper (live connections); this module
only orders the calls so each action leaves both consistent:

- **ban**: the host is stored ``banned`` first (so the slurper's admission refuses it from that
  instant), then kicked; the kick stores ``idle``, so ``banned`` is written again after it.
- **domain ban**: the ban is stored, then every known host under the domain is stored
  ``banned`` with reason ``domain ban: <domain>`` (a slurper restart follows stored statuses,
  not bans) and kicked when connected. Lifting the ban returns exactly those hosts to ``idle``
  unless another ban still covers them.
- **limits / trust**: the slurper reads them when it connects, so a connected host is
  reconnected (kick + add) for them to apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import grpc
from relay_proto.admin.v1 import admin_pb2
from relay_proto.indexer.v1 import indexer_pb2
from relay_proto.slurper.v1 import slurper_pb2
from relay_proto.types.v1 import types_pb2

from relay_admin.errors import InvalidInput, NotFound, PeerError, Refused
from relay_admin.hostname import host_under_domain, parse_domain, parse_hostname
from relay_admin.peers import Peers

__all__ = ["DOMAIN_BAN_REASON_PREFIX", "HostOperations", "merge_host_views"]

logger = logging.getLogger(__name__)

DOMAIN_BAN_REASON_PREFIX: Final = "domain ban: "
"""Status reason of hosts banned because of a domain ban (how lifting the ban finds them)."""
_BANNED: Final = types_pb2.HOST_STATUS_BANNED
_IDLE: Final = types_pb2.HOST_STATUS_IDLE
_PAGE: Final = 1000


def merge_host_views(
    hosts: Sequence[types_pb2.Host], connections: Sequence[slurper_pb2.Connection]
) -> list[admin_pb2.HostView]:
    """One view per stored host, with the slurper's live state of that host when it has one."""
    live = {c.hostname: c for c in connections}
    views = []
    for host in hosts:
        view = admin_pb2.HostView(host=host)
        connection = live.get(host.hostname)
        if connection is not None:
            view.connected = connection.connected
            view.events_per_second = connection.events_per_second
            view.live_cursor = connection.cursor
            view.failed_attempts = connection.failed_attempts
            view.last_error = connection.last_error
        views.append(view)
    return views


def _check_limits(limits: types_pb2.HostLimits) -> None:
    for field in ("account_limit", "events_per_second", "events_per_hour", "events_per_day"):
        value = getattr(limits, field)
        if value < 0:
            raise InvalidInput(f"{field} must be >= 0 (0 = relay default), got {value}")


class HostOperations:
    """Host and domain-ban actions over the indexer and slurper."""

    def __init__(self, peers: Peers, *, dev_mode: bool) -> None:
        self._peers = peers
        self._dev_mode = dev_mode

    def hostname(self, raw: str) -> str:
        return parse_hostname(raw, dev_mode=self._dev_mode)

    async def list_hosts(
        self, request: admin_pb2.ListHostsRequest
    ) -> tuple[list[admin_pb2.HostView], str, list[str]]:
        """A page of hosts merged with live connections; the slurper being down is reported
        in the third element instead of failing the listing (it is when operators need it)."""
        if request.limit < 0:
            raise InvalidInput(f"limit must be >= 0, got {request.limit}")
        page = await self._peers.call(
            "indexer",
            self._peers.indexer.ListHosts,
            indexer_pb2.ListHostsRequest(
                cursor=request.cursor, limit=request.limit, statuses=request.statuses
            ),
            indexer_pb2.ListHostsResponse,
        )
        errors = []
        try:
            connections = list(await self._connections())
        except PeerError as exc:
            connections, errors = [], [f"connections unknown: {exc}"]
        return merge_host_views(page.hosts, connections), page.cursor, errors

    async def host_view(self, raw: str) -> admin_pb2.HostView:
        """One stored host with its live connection state (when the slurper has one)."""
        host = await self.get_host(self.hostname(raw))
        try:
            connections = await self._connections()
        except PeerError:
            connections = []
        return merge_host_views([host], connections)[0]

    async def add_host(self, raw: str) -> types_pb2.Host:
        """Follow a host now: the slurper's operator path (no public switch, no daily quota,
        but bans, hostname rules, SSRF and the describeServer probe still apply)."""
        hostname = self.hostname(raw)
        await self._peers.call(
            "slurper",
            self._peers.slurper.AddHost,
            slurper_pb2.AddHostRequest(hostname=hostname),
            slurper_pb2.AddHostResponse,
        )
        logger.info("host added", extra={"host": hostname})
        return await self.get_host(hostname)

    async def kick_host(self, raw: str, *, reconnect: bool) -> tuple[bool, bool]:
        """Close the host's subscription (and open a new one when ``reconnect``)."""
        hostname = self.hostname(raw)
        host = await self.get_host(hostname)
        kicked = await self._kick(hostname)
        reconnected = False
        if reconnect:
            if host.status == _BANNED:
                raise Refused(f"{hostname} is banned; unban it before reconnecting")
            await self._add(hostname)
            reconnected = True
        logger.info("host kicked", extra={"host": hostname, "kicked": kicked, "reconnect": reconnect})
        return kicked, reconnected

    async def ban_host(self, raw: str, reason: str) -> tuple[types_pb2.Host, bool]:
        hostname = self.hostname(raw)
        host, kicked = await self._ban(hostname, reason.strip() or "banned by an operator")
        logger.info("host banned", extra={"host": hostname, "kicked": kicked})
        return host, kicked

    async def unban_host(self, raw: str) -> types_pb2.Host:
        """Lift a host ban; the host is left ``idle`` (add it to follow it again).

        Raises:
            Refused: the host is not banned, or a domain ban still covers it.
        """
        hostname = self.hostname(raw)
        host = await self.get_host(hostname)
        if host.status != _BANNED:
            raise Refused(f"{hostname} is not banned (status {types_pb2.HostStatus.Name(host.status)})")
        covering = [d for d in await self._banned_domains() if host_under_domain(hostname, d)]
        if covering:
            raise Refused(f"{hostname} is under banned domain {covering[0]}; remove that ban first")
        host = await self._set_status(hostname, _IDLE, "unbanned by an operator")
        logger.info("host unbanned", extra={"host": hostname})
        return host

    async def set_limits(self, raw: str, limits: types_pb2.HostLimits) -> tuple[types_pb2.Host, bool]:
        _check_limits(limits)
        hostname = self.hostname(raw)
        host = await self.get_host(hostname)
        host.limits.CopyFrom(limits)
        return await self._store_and_apply(host, "limits")

    async def set_trusted(self, raw: str, trusted: bool) -> tuple[types_pb2.Host, bool]:
        hostname = self.hostname(raw)
        host = await self.get_host(hostname)
        host.trusted = trusted
        return await self._store_and_apply(host, "trust")

    async def list_domain_bans(self) -> list[types_pb2.DomainBan]:
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.ListDomainBans,
            indexer_pb2.ListDomainBansRequest(),
            indexer_pb2.ListDomainBansResponse,
        )
        return list(reply.bans)

    async def add_domain_ban(self, raw: str, reason: str) -> tuple[types_pb2.DomainBan, list[str]]:
        """Store the ban, then ban (and disconnect) every known host under it."""
        domain = parse_domain(raw)
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.AddDomainBan,
            indexer_pb2.AddDomainBanRequest(domain=domain, reason=reason.strip()),
            indexer_pb2.AddDomainBanResponse,
        )
        names = {h.hostname for h in await self._all_hosts() if h.status != _BANNED}
        names |= {c.hostname for c in await self._connections()}
        banned = sorted(n for n in names if host_under_domain(n, domain))
        for hostname in banned:
            await self._ban(hostname, DOMAIN_BAN_REASON_PREFIX + domain)
        logger.info("domain banned", extra={"domain": domain, "hosts_banned": len(banned)})
        return reply.ban, banned

    async def remove_domain_ban(self, raw: str) -> tuple[bool, list[str]]:
        """Lift the ban; hosts banned only because of it go back to ``idle``."""
        domain = parse_domain(raw)
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.RemoveDomainBan,
            indexer_pb2.RemoveDomainBanRequest(domain=domain),
            indexer_pb2.RemoveDomainBanResponse,
        )
        if not reply.removed:
            return False, []
        remaining = await self._banned_domains()
        unbanned = []
        for host in await self._all_hosts(statuses=[_BANNED]):
            if host.status_reason != DOMAIN_BAN_REASON_PREFIX + domain:
                continue
            if any(host_under_domain(host.hostname, d) for d in remaining):
                continue
            await self._set_status(host.hostname, _IDLE, f"domain ban lifted: {domain}")
            unbanned.append(host.hostname)
        logger.info("domain ban removed", extra={"domain": domain, "hosts_unbanned": len(unbanned)})
        return True, unbanned

    async def get_crawl_policy(self) -> types_pb2.CrawlPolicy:
        reply = await self._peers.call(
            "slurper",
            self._peers.slurper.GetCrawlPolicy,
            slurper_pb2.GetCrawlPolicyRequest(),
            slurper_pb2.GetCrawlPolicyResponse,
        )
        return reply.policy

    async def set_crawl_policy(self, policy: types_pb2.CrawlPolicy) -> types_pb2.CrawlPolicy:
        """Apply and persist the public requestCrawl switch and daily limit (the slurper stores
        it through the indexer, so a restart keeps it)."""
        if policy.new_hosts_per_day < 0:
            raise InvalidInput(f"new_hosts_per_day must be >= 0, got {policy.new_hosts_per_day}")
        reply = await self._peers.call(
            "slurper",
            self._peers.slurper.SetCrawlPolicy,
            slurper_pb2.SetCrawlPolicyRequest(policy=policy),
            slurper_pb2.SetCrawlPolicyResponse,
        )
        logger.info(
            "crawl policy set",
            extra={
                "public_request_crawl": reply.policy.public_request_crawl,
                "new_hosts_per_day": reply.policy.new_hosts_per_day,
            },
        )
        return reply.policy

    async def get_host(self, hostname: str) -> types_pb2.Host:
        """The stored host; NOT_FOUND names the host when the indexer does not know it."""
        try:
            reply = await self._peers.call(
                "indexer",
                self._peers.indexer.GetHost,
                indexer_pb2.GetHostRequest(hostname=hostname),
                indexer_pb2.GetHostResponse,
            )
        except PeerError as exc:
            if exc.code is grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"unknown host {hostname!r}: the relay has never followed it") from exc
            raise
        return reply.host

    async def _store_and_apply(self, host: types_pb2.Host, what: str) -> tuple[types_pb2.Host, bool]:
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.UpsertHost,
            indexer_pb2.UpsertHostRequest(host=host),
            indexer_pb2.UpsertHostResponse,
        )
        connected = {c.hostname for c in await self._connections()}
        reconnected = False
        if host.hostname in connected:
            await self._kick(host.hostname)
            await self._add(host.hostname)
            reconnected = True
        logger.info(
            "host settings changed", extra={"host": host.hostname, "what": what, "reconnected": reconnected}
        )
        return reply.host, reconnected

    async def _ban(self, hostname: str, reason: str) -> tuple[types_pb2.Host, bool]:
        await self._set_status(hostname, _BANNED, reason)
        kicked = await self._kick(hostname)
        # The slurper stores "idle" when it kicks; the ban must be the last word.
        host = await self._set_status(hostname, _BANNED, reason) if kicked else await self.get_host(hostname)
        return host, kicked

    async def _set_status(
        self, hostname: str, status: types_pb2.HostStatus.ValueType, reason: str
    ) -> types_pb2.Host:
        try:
            reply = await self._peers.call(
                "indexer",
                self._peers.indexer.SetHostStatus,
                indexer_pb2.SetHostStatusRequest(hostname=hostname, status=status, reason=reason),
                indexer_pb2.SetHostStatusResponse,
            )
        except PeerError as exc:
            if exc.code is grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"unknown host {hostname!r}: the relay has never followed it (a domain ban covers "
                    "hosts not seen yet)"
                ) from exc
            raise
        return reply.host

    async def _kick(self, hostname: str) -> bool:
        reply = await self._peers.call(
            "slurper",
            self._peers.slurper.KickHost,
            slurper_pb2.KickHostRequest(hostname=hostname),
            slurper_pb2.KickHostResponse,
        )
        return reply.kicked

    async def _add(self, hostname: str) -> bool:
        reply = await self._peers.call(
            "slurper",
            self._peers.slurper.AddHost,
            slurper_pb2.AddHostRequest(hostname=hostname),
            slurper_pb2.AddHostResponse,
        )
        return reply.added

    async def _connections(self) -> Sequence[slurper_pb2.Connection]:
        reply = await self._peers.call(
            "slurper",
            self._peers.slurper.ListConnections,
            slurper_pb2.ListConnectionsRequest(),
            slurper_pb2.ListConnectionsResponse,
        )
        return reply.connections

    async def _banned_domains(self) -> list[str]:
        return [b.domain for b in await self.list_domain_bans()]

    async def _all_hosts(
        self, statuses: Sequence[types_pb2.HostStatus.ValueType] = ()
    ) -> list[types_pb2.Host]:
        hosts: list[types_pb2.Host] = []
        cursor = ""
        while True:
            page = await self._peers.call(
                "indexer",
                self._peers.indexer.ListHosts,
                indexer_pb2.ListHostsRequest(cursor=cursor, limit=_PAGE, statuses=statuses),
                indexer_pb2.ListHostsResponse,
            )
            hosts.extend(page.hosts)
            cursor = page.cursor
            if not cursor:
                return hosts
