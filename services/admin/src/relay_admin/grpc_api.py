"""gRPC servicer of the admin: each RPC validates, delegates to an operations class, answers.

Every :class:`~relay_admin.errors.AdminError` becomes its gRPC status with the error's message
(INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, or the peer's code / UNAVAILABLE); anything
unexpected is logged with its traceback and answered INTERNAL, so no operator input crashes the
process or leaks a stack trace to the caller. Each RPC counts one ``relay_admin_actions_total``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Final, NoReturn, TypeAlias, TypeVar

import grpc
from relay_proto.admin.v1 import admin_pb2 as pb, admin_pb2_grpc
from relay_proto.indexer.v1 import indexer_pb2
from relay_runtime.grpc_server import GrpcServer

from relay_admin import metrics
from relay_admin.accounts import AccountOperations
from relay_admin.backfill import BackfillOperations
from relay_admin.errors import AdminError, InvalidInput
from relay_admin.hosts import HostOperations
from relay_admin.stats import StatsOperations

__all__ = ["SERVICE_NAME", "AdminApi", "add_to", "to_account_view"]

logger = logging.getLogger(__name__)

_DESCRIPTOR: Final = pb.DESCRIPTOR.services_by_name["AdminService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
_T = TypeVar("_T")


def to_account_view(account: indexer_pb2.Account) -> pb.AccountStatusView:
    return pb.AccountStatusView(
        did=account.did,
        host=account.host,
        status=account.status,
        upstream_status=account.upstream_status,
        local_status=account.local_status,
        rev=account.rev,
    )


async def _abort(context: Context, action: str, exc: BaseException) -> NoReturn:
    if isinstance(exc, AdminError):
        metrics.ACTIONS_TOTAL.labels(action, exc.code.name.lower()).inc()
        await context.abort(exc.code, str(exc))
    else:
        metrics.ACTIONS_TOTAL.labels(action, "internal").inc()
        logger.error("admin action failed unexpectedly", exc_info=exc, extra={"action": action})
        await context.abort(grpc.StatusCode.INTERNAL, f"{action} failed: {type(exc).__name__}")
    raise AssertionError("abort returned")


class AdminApi(admin_pb2_grpc.AdminServiceServicer):  # type: ignore[misc]
    """``relay.admin.v1.AdminService``."""

    def __init__(
        self,
        *,
        hosts: HostOperations,
        accounts: AccountOperations,
        backfill: BackfillOperations,
        stats: StatsOperations,
    ) -> None:
        self._hosts = hosts
        self._accounts = accounts
        self._backfill = backfill
        self._stats = stats

    @staticmethod
    async def _run(action: str, context: Context, operation: Awaitable[_T]) -> _T:
        try:
            result = await operation
        except Exception as exc:
            await _abort(context, action, exc)
        metrics.ACTIONS_TOTAL.labels(action, "ok").inc()
        return result

    # Hosts.

    async def ListHosts(self, request: pb.ListHostsRequest, context: Context) -> pb.ListHostsResponse:
        views, cursor, errors = await self._run("ListHosts", context, self._hosts.list_hosts(request))
        return pb.ListHostsResponse(hosts=views, cursor=cursor, errors=errors)

    async def GetHost(self, request: pb.GetHostRequest, context: Context) -> pb.GetHostResponse:
        view = await self._run("GetHost", context, self._hosts.host_view(request.hostname))
        return pb.GetHostResponse(host=view)

    async def AddHost(self, request: pb.AddHostRequest, context: Context) -> pb.AddHostResponse:
        host = await self._run("AddHost", context, self._hosts.add_host(request.hostname))
        return pb.AddHostResponse(host=host)

    async def KickHost(self, request: pb.KickHostRequest, context: Context) -> pb.KickHostResponse:
        kicked, reconnected = await self._run(
            "KickHost", context, self._hosts.kick_host(request.hostname, reconnect=request.reconnect)
        )
        return pb.KickHostResponse(kicked=kicked, reconnected=reconnected)

    async def BanHost(self, request: pb.BanHostRequest, context: Context) -> pb.BanHostResponse:
        host, kicked = await self._run(
            "BanHost", context, self._hosts.ban_host(request.hostname, request.reason)
        )
        return pb.BanHostResponse(host=host, kicked=kicked)

    async def UnbanHost(self, request: pb.UnbanHostRequest, context: Context) -> pb.UnbanHostResponse:
        host = await self._run("UnbanHost", context, self._hosts.unban_host(request.hostname))
        return pb.UnbanHostResponse(host=host)

    async def SetHostLimits(
        self, request: pb.SetHostLimitsRequest, context: Context
    ) -> pb.SetHostLimitsResponse:
        if not request.HasField("limits"):
            await _abort(context, "SetHostLimits", InvalidInput("limits are required"))
        host, reconnected = await self._run(
            "SetHostLimits", context, self._hosts.set_limits(request.hostname, request.limits)
        )
        return pb.SetHostLimitsResponse(host=host, reconnected=reconnected)

    async def SetHostTrusted(
        self, request: pb.SetHostTrustedRequest, context: Context
    ) -> pb.SetHostTrustedResponse:
        host, reconnected = await self._run(
            "SetHostTrusted", context, self._hosts.set_trusted(request.hostname, request.trusted)
        )
        return pb.SetHostTrustedResponse(host=host, reconnected=reconnected)

    # Domain bans.

    async def ListDomainBans(
        self, request: pb.ListDomainBansRequest, context: Context
    ) -> pb.ListDomainBansResponse:
        bans = await self._run("ListDomainBans", context, self._hosts.list_domain_bans())
        return pb.ListDomainBansResponse(bans=bans)

    async def AddDomainBan(
        self, request: pb.AddDomainBanRequest, context: Context
    ) -> pb.AddDomainBanResponse:
        ban, banned = await self._run(
            "AddDomainBan", context, self._hosts.add_domain_ban(request.domain, request.reason)
        )
        return pb.AddDomainBanResponse(ban=ban, banned_hosts=banned)

    async def RemoveDomainBan(
        self, request: pb.RemoveDomainBanRequest, context: Context
    ) -> pb.RemoveDomainBanResponse:
        removed, unbanned = await self._run(
            "RemoveDomainBan", context, self._hosts.remove_domain_ban(request.domain)
        )
        return pb.RemoveDomainBanResponse(removed=removed, unbanned_hosts=unbanned)

    # Crawl policy.

    async def GetCrawlPolicy(
        self, request: pb.GetCrawlPolicyRequest, context: Context
    ) -> pb.GetCrawlPolicyResponse:
        policy = await self._run("GetCrawlPolicy", context, self._hosts.get_crawl_policy())
        return pb.GetCrawlPolicyResponse(policy=policy)

    async def SetCrawlPolicy(
        self, request: pb.SetCrawlPolicyRequest, context: Context
    ) -> pb.SetCrawlPolicyResponse:
        policy = await self._run("SetCrawlPolicy", context, self._hosts.set_crawl_policy(request.policy))
        return pb.SetCrawlPolicyResponse(policy=policy)

    # Accounts.

    async def TakedownAccount(
        self, request: pb.TakedownAccountRequest, context: Context
    ) -> pb.TakedownAccountResponse:
        done = await self._run(
            "TakedownAccount",
            context,
            self._accounts.takedown(request.did, request.reason, scrub_replay=request.scrub_replay),
        )
        return pb.TakedownAccountResponse(
            account=to_account_view(done.account),
            events_scrubbed=done.events_scrubbed,
            event_seq=done.event_seq,
            scrub_error=done.scrub_error,
        )

    async def ReverseTakedown(
        self, request: pb.ReverseTakedownRequest, context: Context
    ) -> pb.ReverseTakedownResponse:
        done = await self._run("ReverseTakedown", context, self._accounts.reverse(request.did))
        return pb.ReverseTakedownResponse(account=to_account_view(done.account), event_seq=done.event_seq)

    async def GetAccountStatus(
        self, request: pb.GetAccountStatusRequest, context: Context
    ) -> pb.GetAccountStatusResponse:
        account = await self._run("GetAccountStatus", context, self._accounts.status(request.did))
        return pb.GetAccountStatusResponse(account=to_account_view(account))

    # Backfill.

    async def StartBackfill(
        self, request: pb.StartBackfillRequest, context: Context
    ) -> pb.StartBackfillResponse:
        progress = await self._run("StartBackfill", context, self._backfill.start(request))
        return pb.StartBackfillResponse(progress=progress)

    async def PauseBackfill(
        self, request: pb.PauseBackfillRequest, context: Context
    ) -> pb.PauseBackfillResponse:
        progress = await self._run("PauseBackfill", context, self._backfill.pause(request.job_id))
        return pb.PauseBackfillResponse(progress=progress)

    async def ResumeBackfill(
        self, request: pb.ResumeBackfillRequest, context: Context
    ) -> pb.ResumeBackfillResponse:
        progress = await self._run("ResumeBackfill", context, self._backfill.resume(request.job_id))
        return pb.ResumeBackfillResponse(progress=progress)

    async def WatchBackfillProgress(
        self, request: pb.WatchBackfillProgressRequest, context: Context
    ) -> AsyncIterator[pb.BackfillProgressView]:
        try:
            async for view in self._backfill.watch(request.job_id, follow=request.follow):
                yield view
        except Exception as exc:
            await _abort(context, "WatchBackfillProgress", exc)
        metrics.ACTIONS_TOTAL.labels("WatchBackfillProgress", "ok").inc()

    # Consumers and stats.

    async def ListConsumers(
        self, request: pb.ListConsumersRequest, context: Context
    ) -> pb.ListConsumersResponse:
        consumers = await self._run("ListConsumers", context, self._stats.consumers())
        return pb.ListConsumersResponse(consumers=consumers)

    async def GetStats(self, request: pb.GetStatsRequest, context: Context) -> pb.GetStatsResponse:
        return await self._run("GetStats", context, self._stats.stats())


def add_to(server: GrpcServer, api: AdminApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(admin_pb2_grpc.add_AdminServiceServicer_to_server, api, SERVICE_NAME)
