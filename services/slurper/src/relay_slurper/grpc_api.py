"""gRPC servicer of the slurper: with ``indexer_client``, the only module that touches protobuf."""

from __future__ import annotations

from typing import Any, Final, NoReturn, TypeAlias

import grpc
from relay_proto.slurper.v1 import slurper_pb2 as pb, slurper_pb2_grpc
from relay_proto.types.v1 import types_pb2
from relay_runtime.grpc_server import GrpcServer

from relay_slurper.admission import AdmissionSource, HostAdmission
from relay_slurper.errors import HostBanned, HostRefused
from relay_slurper.host_address import parse_host
from relay_slurper.host_registry import HostRegistry
from relay_slurper.host_store import CrawlPolicy
from relay_slurper.subscription import ConnectionState

__all__ = ["SERVICE_NAME", "SlurperApi", "add_to", "to_proto_connection"]

_DESCRIPTOR: Final = pb.DESCRIPTOR.services_by_name["SlurperService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


def to_proto_connection(state: ConnectionState) -> pb.Connection:
    return pb.Connection(
        hostname=state.hostname,
        connected=state.connected,
        events_per_second=state.events_per_second,
        cursor=state.cursor,
        connected_since_us=state.connected_since_us,
        failed_attempts=state.failed_attempts,
        last_error=state.last_error,
    )


def _to_proto_policy(policy: CrawlPolicy) -> types_pb2.CrawlPolicy:
    return types_pb2.CrawlPolicy(
        public_request_crawl=policy.public_request_crawl, new_hosts_per_day=policy.new_hosts_per_day
    )


async def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort returned")


class SlurperApi(slurper_pb2_grpc.SlurperServiceServicer):
    """``relay.slurper.v1.SlurperService``: the operator's control of upstream subscriptions."""

    def __init__(self, admission: HostAdmission, registry: HostRegistry, *, dev_mode: bool) -> None:
        self._admission = admission
        self._registry = registry
        self._dev_mode = dev_mode

    async def AddHost(self, request: pb.AddHostRequest, context: Context) -> pb.AddHostResponse:
        try:
            added = await self._admission.admit(request.hostname, AdmissionSource.OPERATOR)
        except HostBanned as exc:
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, f"{exc.reason}: {exc}")
        except HostRefused as exc:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"{exc.reason}: {exc}")
        return pb.AddHostResponse(added=added)

    async def KickHost(self, request: pb.KickHostRequest, context: Context) -> pb.KickHostResponse:
        try:
            hostname = parse_host(request.hostname, dev_mode=self._dev_mode).hostname
        except HostRefused as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.KickHostResponse(kicked=await self._registry.kick(hostname))

    async def ListConnections(
        self, request: pb.ListConnectionsRequest, context: Context
    ) -> pb.ListConnectionsResponse:
        states = sorted(self._registry.connections(), key=lambda s: s.hostname)
        return pb.ListConnectionsResponse(connections=[to_proto_connection(s) for s in states])

    async def GetCrawlPolicy(
        self, request: pb.GetCrawlPolicyRequest, context: Context
    ) -> pb.GetCrawlPolicyResponse:
        return pb.GetCrawlPolicyResponse(policy=_to_proto_policy(self._admission.policy))

    async def SetCrawlPolicy(
        self, request: pb.SetCrawlPolicyRequest, context: Context
    ) -> pb.SetCrawlPolicyResponse:
        if request.policy.new_hosts_per_day < 0:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "new_hosts_per_day must be >= 0")
        policy = CrawlPolicy(
            public_request_crawl=request.policy.public_request_crawl,
            new_hosts_per_day=request.policy.new_hosts_per_day,
        )
        return pb.SetCrawlPolicyResponse(policy=_to_proto_policy(await self._admission.set_policy(policy)))


def add_to(server: GrpcServer, api: SlurperApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(slurper_pb2_grpc.add_SlurperServiceServicer_to_server, api, SERVICE_NAME)
