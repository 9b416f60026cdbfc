"""gRPC servicer of the slurper: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.slurper.v1 import slurper_pb2, slurper_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "SlurperApi", "add_to"]

_DESCRIPTOR: Final = slurper_pb2.DESCRIPTOR.services_by_name["SlurperService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 4
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(slurper_pb2_grpc.SlurperServiceServicer, _DESCRIPTOR, ISSUE)


class SlurperApi(_Base):  # type: ignore[misc]
    """``relay.slurper.v1.SlurperService``: RPCs answer UNIMPLEMENTED naming issue #4 until it lands."""


def add_to(server: GrpcServer, api: SlurperApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(slurper_pb2_grpc.add_SlurperServiceServicer_to_server, api, SERVICE_NAME)
