"""The real :class:`~relay_slurper.host_store.HostStore`: the indexer's gRPC API.

The only module of the slurper besides ``grpc_api`` that sees protobuf; conversions live in the
``*_from_proto`` / ``to_proto_*`` functions below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final

import grpc
from relay_proto.indexer.v1 import indexer_pb2 as pb, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2

from relay_slurper.host_store import CrawlPolicy, HostRecord, HostStatus
from relay_slurper.rate_limits import RateLimits

__all__ = ["IndexerHostStore", "host_from_proto"]

logger = logging.getLogger(__name__)

_PAGE: Final = 1000
_TIMEOUT_SECONDS: Final = 10.0


def _status_to_proto(status: HostStatus) -> types_pb2.HostStatus.ValueType:
    return types_pb2.HostStatus.Value("HOST_STATUS_" + status.value.upper())


def _status_from_proto(value: types_pb2.HostStatus.ValueType) -> HostStatus:
    name = types_pb2.HostStatus.Name(value).removeprefix("HOST_STATUS_")
    return HostStatus.ACTIVE if name == "UNSPECIFIED" else HostStatus(name.lower())


def host_from_proto(host: types_pb2.Host) -> HostRecord:
    limits = host.limits
    overrides = None
    if limits.events_per_second or limits.events_per_hour or limits.events_per_day:
        overrides = RateLimits(
            per_second=limits.events_per_second,
            per_hour=limits.events_per_hour,
            per_day=limits.events_per_day,
        )
    return HostRecord(
        hostname=host.hostname,
        status=_status_from_proto(host.status),
        trusted=host.trusted,
        account_limit=limits.account_limit,
        rate_overrides=overrides,
        cursor=host.cursor,
        account_count=host.account_count,
    )


class IndexerHostStore:
    """HostStore over ``relay.indexer.v1.IndexerService``."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = indexer_pb2_grpc.IndexerServiceStub(channel)
        self._policy_unsupported = False

    async def list_hosts(self, statuses: Sequence[HostStatus] = ()) -> list[HostRecord]:
        out: list[HostRecord] = []
        cursor = ""
        wanted = [_status_to_proto(s) for s in statuses]
        while True:
            request = pb.ListHostsRequest(cursor=cursor, limit=_PAGE, statuses=wanted)
            response = await self._stub.ListHosts(request, timeout=_TIMEOUT_SECONDS)
            out.extend(host_from_proto(h) for h in response.hosts)
            if not response.cursor:
                return out
            cursor = response.cursor

    async def get_host(self, hostname: str) -> HostRecord | None:
        try:
            response = await self._stub.GetHost(
                pb.GetHostRequest(hostname=hostname), timeout=_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return host_from_proto(response.host)

    async def create_host(self, hostname: str, *, trusted: bool) -> tuple[HostRecord, bool]:
        # NOTE: UpsertHost overwrites status and limits of an existing host, so look first; two
        # concurrent creations of one new host both write the same defaults, which is harmless.
        existing = await self.get_host(hostname)
        if existing is not None:
            return existing, False
        host = types_pb2.Host(hostname=hostname, status=types_pb2.HOST_STATUS_ACTIVE, trusted=trusted)
        response = await self._stub.UpsertHost(pb.UpsertHostRequest(host=host), timeout=_TIMEOUT_SECONDS)
        return host_from_proto(response.host), response.created

    async def set_host_status(self, hostname: str, status: HostStatus, reason: str) -> None:
        request = pb.SetHostStatusRequest(hostname=hostname, status=_status_to_proto(status), reason=reason)
        await self._stub.SetHostStatus(request, timeout=_TIMEOUT_SECONDS)

    async def set_host_cursors(self, cursors: Mapping[str, int]) -> None:
        if not cursors:
            return
        items = [pb.HostCursor(hostname=h, cursor=c) for h, c in cursors.items()]
        await self._stub.SetHostCursors(pb.SetHostCursorsRequest(cursors=items), timeout=_TIMEOUT_SECONDS)

    async def list_domain_bans(self) -> frozenset[str]:
        response = await self._stub.ListDomainBans(pb.ListDomainBansRequest(), timeout=_TIMEOUT_SECONDS)
        return frozenset(b.domain for b in response.bans)

    async def get_crawl_policy(self) -> CrawlPolicy | None:
        if self._policy_unsupported:
            return None
        try:
            response = await self._stub.GetCrawlPolicy(pb.GetCrawlPolicyRequest(), timeout=_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self._unsupported()
            return None
        if not response.HasField("policy"):
            return None
        return CrawlPolicy(
            public_request_crawl=response.policy.public_request_crawl,
            new_hosts_per_day=response.policy.new_hosts_per_day,
        )

    async def set_crawl_policy(self, policy: CrawlPolicy) -> bool:
        if self._policy_unsupported:
            return False
        proto = types_pb2.CrawlPolicy(
            public_request_crawl=policy.public_request_crawl, new_hosts_per_day=policy.new_hosts_per_day
        )
        try:
            await self._stub.SetCrawlPolicy(pb.SetCrawlPolicyRequest(policy=proto), timeout=_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self._unsupported()
            return False
        return True

    def _unsupported(self) -> None:
        self._policy_unsupported = True
        logger.warning("indexer does not implement Get/SetCrawlPolicy; crawl policy is kept in memory only")
