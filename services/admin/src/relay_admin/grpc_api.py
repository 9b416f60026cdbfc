"""gRPC servicer of the admin: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.admin.v1 import admin_pb2, admin_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "AdminApi", "add_to"]

_DESCRIPTOR: Final = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 7
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(admin_pb2_grpc.AdminServiceServicer, _DESCRIPTOR, ISSUE)


class AdminApi(_Base):  # type: ignore[misc]
    """``relay.admin.v1.AdminService``: RPCs answer UNIMPLEMENTED naming issue #7 until it lands."""


def add_to(server: GrpcServer, api: AdminApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(admin_pb2_grpc.add_AdminServiceServicer_to_server, api, SERVICE_NAME)
