"""gRPC servicer of the resolver: the only module here that touches protobuf messages.

Conversion to and from the domain types happens in the named `to_proto_*` functions below, so
`IdentityResolver` never sees a protobuf message.
"""

from __future__ import annotations

from typing import Any, Final

import grpc
from relay_proto.resolver.v1 import resolver_pb2, resolver_pb2_grpc
from relay_runtime.grpc_server import GrpcServer

from relay_resolver.errors import FailureKind
from relay_resolver.key_history import HistoryOutcome, KeyHistoryLookup
from relay_resolver.outcome import Failure, Outcome, Resolved
from relay_resolver.resolver import IdentityResolver

__all__ = ["SERVICE_NAME", "ResolverApi", "add_to", "to_proto_key_history", "to_proto_resolution"]

_DESCRIPTOR: Final = resolver_pb2.DESCRIPTOR.services_by_name["ResolverService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""

_ERROR_CODES: Final[dict[FailureKind, resolver_pb2.ResolveErrorCode.ValueType]] = {
    FailureKind.INVALID_DID: resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID,
    FailureKind.NOT_FOUND: resolver_pb2.RESOLVE_ERROR_CODE_NOT_FOUND,
    FailureKind.TOMBSTONED: resolver_pb2.RESOLVE_ERROR_CODE_TOMBSTONED,
    FailureKind.INVALID_DOCUMENT: resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DOCUMENT,
    FailureKind.UNREACHABLE: resolver_pb2.RESOLVE_ERROR_CODE_UNREACHABLE,
    FailureKind.OVERLOADED: resolver_pb2.RESOLVE_ERROR_CODE_OVERLOADED,
}


def to_proto_resolution(did: str, outcome: Outcome) -> Any:
    """One `relay.resolver.v1.Resolution` for `did` (echoed exactly as requested)."""
    if isinstance(outcome, Resolved):
        identity = outcome.identity
        return resolver_pb2.Resolution(
            did=did,
            identity=resolver_pb2.Identity(
                did=identity.did,
                signing_key=identity.signing_key.did_key(),
                pds_endpoint=identity.pds_endpoint or "",
                handle=identity.handle or "",
                # NOTE: bidirectional handle verification is not done here yet.
                handle_verified=False,
                resolved_at_us=outcome.resolved_at_us,
            ),
        )
    return resolver_pb2.Resolution(did=did, error=_to_proto_error(outcome))


def to_proto_key_history(did: str, outcome: HistoryOutcome) -> Any:
    """One `relay.resolver.v1.KeyHistory` for `did` (echoed exactly as requested)."""
    if isinstance(outcome, Failure):
        return resolver_pb2.KeyHistory(did=did, error=_to_proto_error(outcome))
    return resolver_pb2.KeyHistory(
        did=did,
        periods=resolver_pb2.KeyPeriods(
            periods=[
                resolver_pb2.KeyPeriod(
                    signing_key=period.signing_key.did_key(),
                    valid_from_us=period.valid_from_us,
                    valid_until_us=period.valid_until_us or 0,
                )
                for period in outcome
            ]
        ),
    )


def _to_proto_error(failure: Failure) -> Any:
    return resolver_pb2.ResolveError(code=_ERROR_CODES[failure.kind], message=failure.message)


class ResolverApi(resolver_pb2_grpc.ResolverServiceServicer):  # type: ignore[misc]
    """`relay.resolver.v1.ResolverService` over an `IdentityResolver`.

    Args:
        resolver: the domain object answering requests.
        max_batch_dids: larger `ResolveDids` requests are refused with INVALID_ARGUMENT, which
            bounds the work (and tasks) one call can create.
    """

    def __init__(
        self, resolver: IdentityResolver, histories: KeyHistoryLookup, *, max_batch_dids: int
    ) -> None:
        self._resolver = resolver
        self._histories = histories
        self._max_batch_dids = max_batch_dids

    async def _dids(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> list[str]:
        dids = list(request.dids)
        if len(dids) > self._max_batch_dids:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(dids)} DIDs in one call; the limit is {self._max_batch_dids}",
            )
        return dids

    async def ResolveDids(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        dids = await self._dids(request, context)
        outcomes = await self._resolver.resolve_many(dids, fresh=request.fresh)
        return resolver_pb2.ResolveDidsResponse(
            resolutions=[to_proto_resolution(did, o) for did, o in zip(dids, outcomes, strict=True)]
        )

    async def Invalidate(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        dids = await self._dids(request, context)
        return resolver_pb2.InvalidateResponse(invalidated=self._resolver.invalidate(dids))

    async def KeyHistory(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        dids = await self._dids(request, context)
        outcomes = await self._histories.histories(dids)
        return resolver_pb2.KeyHistoryResponse(
            histories=[to_proto_key_history(did, o) for did, o in zip(dids, outcomes, strict=True)]
        )


def add_to(server: GrpcServer, api: ResolverApi) -> None:
    """Register `api` on `server` (health and reflection list it by `SERVICE_NAME`)."""
    server.add_service(resolver_pb2_grpc.add_ResolverServiceServicer_to_server, api, SERVICE_NAME)
