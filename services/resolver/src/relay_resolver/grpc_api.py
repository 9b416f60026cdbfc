"""gRPC servicer of the resolver: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.resolver.v1 import resolver_pb2, resolver_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "ResolverApi", "add_to"]

_DESCRIPTOR: Final = resolver_pb2.DESCRIPTOR.services_by_name["ResolverService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 4
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(resolver_pb2_grpc.ResolverServiceServicer, _DESCRIPTOR, ISSUE)


class ResolverApi(_Base):  # type: ignore[misc]
    """``relay.resolver.v1.ResolverService``: RPCs answer UNIMPLEMENTED naming issue #4 until it lands."""


def add_to(server: GrpcServer, api: ResolverApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(resolver_pb2_grpc.add_ResolverServiceServicer_to_server, api, SERVICE_NAME)
