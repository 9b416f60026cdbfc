"""gRPC client of the resolver: the only module here that touches resolver protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from relay_core.errors import InvalidKey
from relay_core.key_history import KeyPeriod
from relay_core.keys import parse_did_key
from relay_core.syntax.did import Did
from relay_proto.resolver.v1 import resolver_pb2, resolver_pb2_grpc

from relay_validator.errors import DependencyUnavailable
from relay_validator.identity import AccountIdentity, FailureKind, IdentityFailure, endpoint_host

__all__ = ["IdentitySource", "ResolverClient", "from_proto_key_history", "from_proto_resolution"]

_FAILURES: Final = {
    resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID: FailureKind.INVALID,
    resolver_pb2.RESOLVE_ERROR_CODE_NOT_FOUND: FailureKind.NOT_FOUND,
    resolver_pb2.RESOLVE_ERROR_CODE_TOMBSTONED: FailureKind.TOMBSTONED,
    resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DOCUMENT: FailureKind.INVALID,
    resolver_pb2.RESOLVE_ERROR_CODE_UNREACHABLE: FailureKind.UNREACHABLE,
    resolver_pb2.RESOLVE_ERROR_CODE_OVERLOADED: FailureKind.UNREACHABLE,
}


class IdentitySource(Protocol):
    """Where identities come from (the resolver service)."""

    async def resolve(
        self, dids: Sequence[Did], *, fresh: bool
    ) -> dict[Did, AccountIdentity | IdentityFailure]: ...

    async def key_history(
        self, dids: Sequence[Did]
    ) -> dict[Did, tuple[KeyPeriod, ...] | IdentityFailure]: ...


def from_proto_resolution(resolution: Any) -> AccountIdentity | IdentityFailure:
    """One `relay.resolver.v1.Resolution` as the validator's identity (or failure)."""
    if resolution.WhichOneof("result") != "identity":
        code = resolution.error.code
        return IdentityFailure(_FAILURES.get(code, FailureKind.UNREACHABLE), resolution.error.message[:200])
    ident = resolution.identity
    try:
        key = parse_did_key(ident.signing_key)
    except InvalidKey as exc:
        return IdentityFailure(FailureKind.INVALID, f"signing key: {exc}")
    return AccountIdentity(
        did=Did(resolution.did),
        signing_key=key,
        pds_host=endpoint_host(ident.pds_endpoint) if ident.pds_endpoint else None,
        handle=ident.handle.lower() or None,
        handle_verified=ident.handle_verified,
        resolved_at_us=ident.resolved_at_us,
    )


def from_proto_key_history(history: Any) -> tuple[KeyPeriod, ...] | IdentityFailure:
    """One `relay.resolver.v1.KeyHistory` as key periods (or a failure)."""
    if history.WhichOneof("result") != "periods":
        code = history.error.code
        return IdentityFailure(_FAILURES.get(code, FailureKind.UNREACHABLE), history.error.message[:200])
    periods = []
    for period in history.periods.periods:
        try:
            key = parse_did_key(period.signing_key)
        except InvalidKey as exc:
            return IdentityFailure(FailureKind.INVALID, f"key history: {exc}")
        periods.append(KeyPeriod(key, period.valid_from_us, period.valid_until_us or None))
    return tuple(periods)


class ResolverClient:
    """Batched `ResolveDids` / `KeyHistory`, split into chunks the resolver accepts.

    Args:
        channel: a channel to the resolver (from `ServiceRuntime.channel`).
        max_batch_dids: the resolver's `RELAY_RESOLVER_MAX_BATCH_DIDS`.
        timeout_seconds: per call; a timeout counts as the resolver being unavailable.
    """

    def __init__(self, channel: grpc.aio.Channel, *, max_batch_dids: int, timeout_seconds: float) -> None:
        self._stub = resolver_pb2_grpc.ResolverServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self._max = max_batch_dids
        self._timeout = timeout_seconds

    async def resolve(
        self, dids: Sequence[Did], *, fresh: bool
    ) -> dict[Did, AccountIdentity | IdentityFailure]:
        out: dict[Did, AccountIdentity | IdentityFailure] = {}
        for start in range(0, len(dids), self._max):
            chunk = list(dids[start : start + self._max])
            try:
                response = await self._stub.ResolveDids(
                    resolver_pb2.ResolveDidsRequest(dids=chunk, fresh=fresh), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise DependencyUnavailable("resolver", f"ResolveDids: {exc.code().name}") from exc
            for did, resolution in zip(chunk, response.resolutions, strict=True):
                out[did] = from_proto_resolution(resolution)
        return out

    async def key_history(self, dids: Sequence[Did]) -> dict[Did, tuple[KeyPeriod, ...] | IdentityFailure]:
        out: dict[Did, tuple[KeyPeriod, ...] | IdentityFailure] = {}
        for start in range(0, len(dids), self._max):
            chunk = list(dids[start : start + self._max])
            try:
                response = await self._stub.KeyHistory(
                    resolver_pb2.KeyHistoryRequest(dids=chunk), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise DependencyUnavailable("resolver", f"KeyHistory: {exc.code().name}") from exc
            for did, history in zip(chunk, response.histories, strict=True):
                out[did] = from_proto_key_history(history)
        return out

    async def serving(self) -> bool:
        """gRPC health of the peer's server (readiness check)."""
        try:
            response = await self._health.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
