"""gRPC servicer of the indexer: the only module here, with `verified_stream`, that touches protobuf.

Requests are converted to domain values in `*_from_proto` functions, answered by the stores, and
converted back in `to_proto_*`. Bad input aborts INVALID_ARGUMENT, unknown things NOT_FOUND, an
update naming an unregistered host FAILED_PRECONDITION. Backfill RPCs drive the
`BackfillManager`: a request that does not fit a job's state (a second running job, pausing a
finished one) is FAILED_PRECONDITION; without a manager (tests that wire only the stores) they
answer UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, NoReturn, TypeAlias

import grpc
from relay_core.errors import InvalidSyntax
from relay_core.syntax import Did, parse_did, parse_nsid
from relay_proto.indexer.v1 import indexer_pb2 as pb, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2
from relay_runtime.grpc_server import GrpcServer

from relay_indexer.account import LOCAL_STATUSES, Account, AccountStatus, AccountUpdate, RepoHead
from relay_indexer.backfill import BackfillManager, JobNotFound, JobStateConflict
from relay_indexer.backfill_job import BackfillKind, BackfillProgress
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.cursor_codec import decode_did_cursor, decode_int_cursor, encode_cursor
from relay_indexer.errors import InvalidCursor, InvalidUpdate, UnknownHost
from relay_indexer.event_applier import EventApplier
from relay_indexer.host import DomainBan, Host, HostLimits, HostStatus, HostUpsert, normalize_hostname
from relay_indexer.host_store import HostStore
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_indexer.verified_stream import account_status_from_proto

__all__ = [
    "CRAWL_POLICY_KEY",
    "SERVICE_NAME",
    "IndexerApi",
    "add_to",
    "to_proto_account",
    "to_proto_backfill_progress",
    "to_proto_host",
]

_DESCRIPTOR: Final = pb.DESCRIPTOR.services_by_name["IndexerService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
CRAWL_POLICY_KEY: Final = "crawl_policy"
"""relay_settings key of the requestCrawl policy the slurper persists here."""
_MAX_PAGE: Final = 1000
_DEFAULT_PAGE: Final = 500
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


def _status_to_proto(status: AccountStatus) -> types_pb2.AccountStatus.ValueType:
    return types_pb2.AccountStatus.Value("ACCOUNT_STATUS_" + status.value.upper())


def _host_status_to_proto(status: HostStatus) -> types_pb2.HostStatus.ValueType:
    return types_pb2.HostStatus.Value("HOST_STATUS_" + status.value.upper())


def _host_status_from_proto(value: types_pb2.HostStatus.ValueType) -> HostStatus | None:
    name = types_pb2.HostStatus.Name(value).removeprefix("HOST_STATUS_")
    return None if name == "UNSPECIFIED" else HostStatus(name.lower())


def to_proto_account(account: Account) -> pb.Account:
    head = account.head
    return pb.Account(
        did=account.did,
        host=account.host or "",
        status=_status_to_proto(account.status),
        upstream_status=_status_to_proto(account.upstream_status),
        local_status=_status_to_proto(account.local_status),
        rev=head.rev if head else "",
        commit_cid=head.commit_cid if head else "",
        data_cid=head.data_cid if head else "",
        updated_at_us=account.updated_at_us,
        desynchronized=account.desynchronized,
    )


def to_proto_host(host: Host) -> types_pb2.Host:
    return types_pb2.Host(
        hostname=host.hostname,
        status=_host_status_to_proto(host.status),
        trusted=host.trusted,
        limits=types_pb2.HostLimits(
            account_limit=host.limits.account_limit,
            events_per_second=host.limits.events_per_second,
            events_per_hour=host.limits.events_per_hour,
            events_per_day=host.limits.events_per_day,
        ),
        cursor=host.cursor,
        account_count=host.account_count,
        created_at_us=host.created_at_us,
        last_seen_at_us=host.last_seen_at_us or 0,
        status_reason=host.status_reason or "",
    )


def _to_proto_ban(ban: DomainBan) -> types_pb2.DomainBan:
    return types_pb2.DomainBan(domain=ban.domain, reason=ban.reason or "", created_at_us=ban.created_at_us)


def account_update_from_proto(update: pb.AccountUpdate) -> AccountUpdate:
    """Raises InvalidSyntax (bad DID) or InvalidUpdate (partial head, bad status, bad host)."""
    head_fields = [update.HasField(f) for f in ("rev", "commit_cid", "data_cid")]
    if any(head_fields) and not all(head_fields):
        raise InvalidUpdate(f"{update.did}: rev, commit_cid and data_cid go together")
    status = None
    if update.HasField("upstream_status"):
        status = account_status_from_proto(update.upstream_status)
        if status is None:
            raise InvalidUpdate(f"{update.did}: upstream_status UNSPECIFIED")
    try:
        host = normalize_hostname(update.host) if update.HasField("host") else None
    except ValueError as exc:
        raise InvalidUpdate(str(exc)) from exc
    return AccountUpdate(
        did=parse_did(update.did),
        host=host,
        upstream_status=status,
        head=RepoHead(update.rev, update.commit_cid, update.data_cid) if all(head_fields) else None,
        desynchronized=update.desynchronized if update.HasField("desynchronized") else None,
    )


def host_upsert_from_proto(host: types_pb2.Host) -> HostUpsert:
    limits = host.limits
    return HostUpsert(
        hostname=normalize_hostname(host.hostname),
        status=_host_status_from_proto(host.status) or HostStatus.ACTIVE,
        trusted=host.trusted,
        limits=HostLimits(
            account_limit=limits.account_limit,
            events_per_second=limits.events_per_second,
            events_per_hour=limits.events_per_hour,
            events_per_day=limits.events_per_day,
        ),
        status_reason=host.status_reason or None,
    )


async def _invalid(context: Context, message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
    raise AssertionError("abort returned")


async def _not_found(context: Context, message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.NOT_FOUND, message)
    raise AssertionError("abort returned")


def _page_limit(limit: int) -> int:
    return _DEFAULT_PAGE if limit <= 0 else min(limit, _MAX_PAGE)


def to_proto_backfill_progress(progress: BackfillProgress) -> types_pb2.BackfillProgress:
    job = progress.job
    return types_pb2.BackfillProgress(
        job_id=str(job.id),
        state=types_pb2.BackfillState.Value("BACKFILL_STATE_" + job.state.value.upper()),
        hosts=job.hosts,
        repos_total=progress.dids_total,
        repos_done=progress.dids_done,
        repos_failed=progress.dids_failed,
        bytes_fetched=progress.bytes_fetched,
        started_at_us=job.created_at_us,
        updated_at_us=job.updated_at_us,
        last_error=progress.last_error or "",
        kind=types_pb2.BackfillKind.Value("BACKFILL_KIND_" + job.kind.value.upper()),
        source=job.source or "",
        collections=[i.item for i in progress.items] if job.kind is BackfillKind.IMPORT else [],
        items_total=len(progress.items),
        items_done=progress.items_done,
        dids_per_second=progress.dids_per_second,
        eta_seconds=progress.eta_seconds,
    )


def _job_id(raw: str) -> int | None:
    """Empty = the latest job; raises ValueError for anything but a positive integer."""
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"job_id must be a positive integer, not {raw!r}")
    return int(raw)


class IndexerApi(indexer_pb2_grpc.IndexerServiceServicer):
    """``relay.indexer.v1.IndexerService`` over the indexer's stores."""

    def __init__(
        self,
        *,
        repos: RepoStore,
        hosts: HostStore,
        policy: PolicyStore,
        index: CollectionIndex,
        applier: EventApplier,
        backfill: BackfillManager | None = None,
    ) -> None:
        self._backfill = backfill
        self._repos = repos
        self._hosts = hosts
        self._policy = policy
        self._index = index
        self._applier = applier

    async def GetAccounts(self, request: pb.GetAccountsRequest, context: Context) -> pb.GetAccountsResponse:
        try:
            dids = [parse_did(d) for d in request.dids]
        except InvalidSyntax as exc:
            await _invalid(context, str(exc))
        found = await self._repos.get_accounts(dids)
        return pb.GetAccountsResponse(
            accounts=[to_proto_account(found[d]) for d in dids if d in found],
            missing=[d for d in dids if d not in found],
        )

    async def UpsertAccounts(
        self, request: pb.UpsertAccountsRequest, context: Context
    ) -> pb.UpsertAccountsResponse:
        try:
            updates = [account_update_from_proto(u) for u in request.accounts]
            count = await self._repos.upsert_accounts(updates)
        except (InvalidSyntax, InvalidUpdate) as exc:
            await _invalid(context, str(exc))
        except UnknownHost as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return pb.UpsertAccountsResponse(upserted=count)

    async def SetAccountLocalStatus(
        self, request: pb.SetAccountLocalStatusRequest, context: Context
    ) -> pb.SetAccountLocalStatusResponse:
        status = account_status_from_proto(request.local_status)
        if status is None or status not in LOCAL_STATUSES:
            await _invalid(context, "local_status must be ACTIVE, TAKENDOWN, SUSPENDED or THROTTLED")
        try:
            did: Did = parse_did(request.did)
        except InvalidSyntax as exc:
            await _invalid(context, str(exc))
        account = await self._applier.set_local_status(did, status, request.reason or None)
        return pb.SetAccountLocalStatusResponse(account=to_proto_account(account))

    async def ListHosts(self, request: pb.ListHostsRequest, context: Context) -> pb.ListHostsResponse:
        try:
            after = decode_int_cursor(request.cursor) if request.cursor else None
        except InvalidCursor as exc:
            await _invalid(context, str(exc))
        statuses = [s for s in (_host_status_from_proto(v) for v in request.statuses) if s is not None]
        limit = _page_limit(request.limit)
        hosts = await self._hosts.list_hosts(after_id=after, limit=limit + 1, statuses=statuses)
        cursor = encode_cursor(str(hosts[limit - 1].id)) if len(hosts) > limit else ""
        return pb.ListHostsResponse(hosts=[to_proto_host(h) for h in hosts[:limit]], cursor=cursor)

    async def GetHost(self, request: pb.GetHostRequest, context: Context) -> pb.GetHostResponse:
        host = await self._hosts.get_host(await self._hostname(request.hostname, context))
        if host is None:
            await _not_found(context, f"unknown host {request.hostname!r}")
        return pb.GetHostResponse(host=to_proto_host(host))

    async def UpsertHost(self, request: pb.UpsertHostRequest, context: Context) -> pb.UpsertHostResponse:
        try:
            upsert = host_upsert_from_proto(request.host)
        except ValueError as exc:
            await _invalid(context, str(exc))
        host, created = await self._hosts.upsert_host(upsert)
        return pb.UpsertHostResponse(host=to_proto_host(host), created=created)

    async def SetHostStatus(
        self, request: pb.SetHostStatusRequest, context: Context
    ) -> pb.SetHostStatusResponse:
        status = _host_status_from_proto(request.status)
        if status is None:
            await _invalid(context, "status must be set")
        hostname = await self._hostname(request.hostname, context)
        host = await self._hosts.set_host_status(hostname, status, request.reason or None)
        if host is None:
            await _not_found(context, f"unknown host {request.hostname!r}")
        return pb.SetHostStatusResponse(host=to_proto_host(host))

    async def SetHostCursors(
        self, request: pb.SetHostCursorsRequest, context: Context
    ) -> pb.SetHostCursorsResponse:
        pairs = [(await self._hostname(c.hostname, context), c.cursor) for c in request.cursors]
        return pb.SetHostCursorsResponse(updated=await self._hosts.set_host_cursors(pairs))

    async def ListDomainBans(
        self, request: pb.ListDomainBansRequest, context: Context
    ) -> pb.ListDomainBansResponse:
        return pb.ListDomainBansResponse(
            bans=[_to_proto_ban(b) for b in await self._policy.list_domain_bans()]
        )

    async def AddDomainBan(
        self, request: pb.AddDomainBanRequest, context: Context
    ) -> pb.AddDomainBanResponse:
        domain = await self._hostname(request.domain, context)
        ban = await self._policy.add_domain_ban(domain, request.reason or None)
        return pb.AddDomainBanResponse(ban=_to_proto_ban(ban))

    async def RemoveDomainBan(
        self, request: pb.RemoveDomainBanRequest, context: Context
    ) -> pb.RemoveDomainBanResponse:
        domain = await self._hostname(request.domain, context)
        return pb.RemoveDomainBanResponse(removed=await self._policy.remove_domain_ban(domain))

    async def GetCrawlPolicy(
        self, request: pb.GetCrawlPolicyRequest, context: Context
    ) -> pb.GetCrawlPolicyResponse:
        stored = await self._policy.get_setting(CRAWL_POLICY_KEY)
        if not isinstance(stored, dict):
            return pb.GetCrawlPolicyResponse()
        return pb.GetCrawlPolicyResponse(
            policy=types_pb2.CrawlPolicy(
                public_request_crawl=bool(stored.get("public_request_crawl", False)),
                new_hosts_per_day=int(stored.get("new_hosts_per_day", 0)),
            )
        )

    async def SetCrawlPolicy(
        self, request: pb.SetCrawlPolicyRequest, context: Context
    ) -> pb.SetCrawlPolicyResponse:
        policy = request.policy
        if policy.new_hosts_per_day < 0:
            await _invalid(context, "new_hosts_per_day must not be negative")
        value = {
            "public_request_crawl": policy.public_request_crawl,
            "new_hosts_per_day": policy.new_hosts_per_day,
        }
        await self._policy.set_setting(CRAWL_POLICY_KEY, value)
        return pb.SetCrawlPolicyResponse(policy=policy)

    async def ListReposByCollection(
        self, request: pb.ListReposByCollectionRequest, context: Context
    ) -> pb.ListReposByCollectionResponse:
        try:
            collection = parse_nsid(request.collection)
            after = decode_did_cursor(request.cursor) if request.cursor else None
        except (InvalidSyntax, InvalidCursor) as exc:
            await _invalid(context, str(exc))
        limit = _DEFAULT_PAGE if request.limit <= 0 else min(request.limit, 2000)
        page = self._index.list_repos(collection, after=after, limit=limit)
        cursor = encode_cursor(page.dids[-1]) if page.more else ""
        return pb.ListReposByCollectionResponse(dids=page.dids, cursor=cursor)

    async def StartBackfill(
        self, request: pb.StartBackfillRequest, context: Context
    ) -> pb.StartBackfillResponse:
        manager = await self._manager(context)
        try:
            if request.kind == types_pb2.BACKFILL_KIND_IMPORT:
                progress = await manager.start_import(request.source, list(request.collections))
            else:
                progress = await manager.start_crawl(list(request.hosts))
        except (ValueError, InvalidSyntax) as exc:
            await _invalid(context, str(exc))
        except JobStateConflict as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return pb.StartBackfillResponse(progress=to_proto_backfill_progress(progress))

    async def PauseBackfill(
        self, request: pb.PauseBackfillRequest, context: Context
    ) -> pb.PauseBackfillResponse:
        manager = await self._manager(context)
        progress = await self._job_call(context, request.job_id, manager.pause)
        return pb.PauseBackfillResponse(progress=to_proto_backfill_progress(progress))

    async def ResumeBackfill(
        self, request: pb.ResumeBackfillRequest, context: Context
    ) -> pb.ResumeBackfillResponse:
        manager = await self._manager(context)
        progress = await self._job_call(context, request.job_id, manager.resume)
        return pb.ResumeBackfillResponse(progress=to_proto_backfill_progress(progress))

    async def GetBackfillProgress(
        self, request: pb.GetBackfillProgressRequest, context: Context
    ) -> AsyncIterator[types_pb2.BackfillProgress]:
        manager = await self._manager(context)
        try:
            job_id = _job_id(request.job_id)
            if not request.follow:
                yield to_proto_backfill_progress(await manager.progress(job_id))
                return
            async for progress in manager.watch(job_id):
                yield to_proto_backfill_progress(progress)
        except ValueError as exc:
            await _invalid(context, str(exc))
        except JobNotFound as exc:
            await _not_found(context, str(exc))

    async def _manager(self, context: Context) -> BackfillManager:
        if self._backfill is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "backfill is not running in this process")
            raise AssertionError("abort returned")
        return self._backfill

    @staticmethod
    async def _job_call(
        context: Context, raw_id: str, call: Callable[[int], Awaitable[BackfillProgress]]
    ) -> BackfillProgress:
        try:
            job_id = _job_id(raw_id)
            if job_id is None:
                raise ValueError("job_id is required")
            return await call(job_id)
        except ValueError as exc:
            await _invalid(context, str(exc))
        except JobNotFound as exc:
            await _not_found(context, str(exc))
        except JobStateConflict as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        raise AssertionError("abort returned")

    @staticmethod
    async def _hostname(raw: str, context: Context) -> str:
        try:
            return normalize_hostname(raw)
        except ValueError as exc:
            await _invalid(context, str(exc))


def add_to(server: GrpcServer, api: IndexerApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(indexer_pb2_grpc.add_IndexerServiceServicer_to_server, api, SERVICE_NAME)
