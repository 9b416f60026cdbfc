"""gRPC client of the indexer: the only module here that touches indexer protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from relay_core.cid import parse_cid_string
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid
from relay_proto.indexer.v1 import indexer_pb2, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2

from relay_validator.account_state import AccountState, AccountStatus
from relay_validator.cid_text import cid_text
from relay_validator.errors import DependencyUnavailable

__all__ = [
    "AccountStore",
    "HostQuota",
    "IndexerClient",
    "from_proto_account",
    "to_proto_status",
    "to_proto_update",
]

_TO_PROTO: Final = {
    AccountStatus.ACTIVE: types_pb2.ACCOUNT_STATUS_ACTIVE,
    AccountStatus.TAKENDOWN: types_pb2.ACCOUNT_STATUS_TAKENDOWN,
    AccountStatus.SUSPENDED: types_pb2.ACCOUNT_STATUS_SUSPENDED,
    AccountStatus.DELETED: types_pb2.ACCOUNT_STATUS_DELETED,
    AccountStatus.DEACTIVATED: types_pb2.ACCOUNT_STATUS_DEACTIVATED,
    AccountStatus.DESYNCHRONIZED: types_pb2.ACCOUNT_STATUS_DESYNCHRONIZED,
    AccountStatus.THROTTLED: types_pb2.ACCOUNT_STATUS_THROTTLED,
}
_FROM_PROTO: Final[dict[int, AccountStatus]] = {int(v): k for k, v in _TO_PROTO.items()}


@dataclass(frozen=True, slots=True)
class HostQuota:
    """A host's account count and its effective account limit (None: unlimited)."""

    account_count: int
    account_limit: int | None


class AccountStore(Protocol):
    """Durable account state (the indexer service)."""

    async def get_accounts(self, dids: Sequence[Did]) -> dict[Did, AccountState]: ...

    async def upsert_accounts(self, states: Sequence[AccountState]) -> None: ...

    async def get_host_quota(self, hostname: str) -> HostQuota | None: ...


def to_proto_status(status: AccountStatus) -> Any:
    return _TO_PROTO[status]


def _status(value: int) -> AccountStatus:
    # UNSPECIFIED (an account row with defaults) reads as active.
    return _FROM_PROTO.get(value, AccountStatus.ACTIVE)


def from_proto_account(account: Any) -> AccountState:
    """An indexer `Account` as the validator's state (CIDs and rev parsed once, here)."""
    return AccountState(
        did=Did(account.did),
        host=account.host or None,
        upstream_status=_status(account.upstream_status),
        local_status=_status(account.local_status),
        desynchronized=account.desynchronized,
        rev=Tid(account.rev) if account.rev else None,
        commit_cid=parse_cid_string(account.commit_cid) if account.commit_cid else None,
        data_cid=parse_cid_string(account.data_cid) if account.data_cid else None,
    )


def to_proto_update(state: AccountState) -> Any:
    """The full validator-owned part of `state` (local status is the operators', never sent)."""
    update = indexer_pb2.AccountUpdate(
        did=state.did,
        upstream_status=_TO_PROTO[state.upstream_status],
        desynchronized=state.desynchronized,
    )
    if state.host is not None:
        update.host = state.host
    if state.rev is not None and state.commit_cid is not None and state.data_cid is not None:
        update.rev = state.rev.value
        update.commit_cid = cid_text(state.commit_cid)
        update.data_cid = cid_text(state.data_cid)
    return update


class IndexerClient:
    """Batched account reads and writes, one call per batch.

    Args:
        channel: a channel to the indexer.
        timeout_seconds: per call; a failure or timeout counts as the indexer being unavailable.
        default_account_limit: the effective limit of a host whose own limit is 0 ("default").
    """

    def __init__(
        self, channel: grpc.aio.Channel, *, timeout_seconds: float, default_account_limit: int
    ) -> None:
        self._stub = indexer_pb2_grpc.IndexerServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self._timeout = timeout_seconds
        self._default_limit = default_account_limit

    async def get_accounts(self, dids: Sequence[Did]) -> dict[Did, AccountState]:
        try:
            response = await self._stub.GetAccounts(
                indexer_pb2.GetAccountsRequest(dids=list(dids)), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise DependencyUnavailable("indexer", f"GetAccounts: {exc.code().name}") from exc
        return {Did(a.did): from_proto_account(a) for a in response.accounts}

    async def upsert_accounts(self, states: Sequence[AccountState]) -> None:
        if not states:
            return
        request = indexer_pb2.UpsertAccountsRequest(accounts=[to_proto_update(s) for s in states])
        try:
            await self._stub.UpsertAccounts(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise DependencyUnavailable("indexer", f"UpsertAccounts: {exc.code().name}") from exc

    async def get_host_quota(self, hostname: str) -> HostQuota | None:
        try:
            response = await self._stub.GetHost(
                indexer_pb2.GetHostRequest(hostname=hostname), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise DependencyUnavailable("indexer", f"GetHost: {exc.code().name}") from exc
        host = response.host
        if host.trusted:
            return HostQuota(host.account_count, None)
        return HostQuota(host.account_count, host.limits.account_limit or self._default_limit)

    async def serving(self) -> bool:
        """gRPC health of the peer's server (readiness check)."""
        try:
            response = await self._health.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
