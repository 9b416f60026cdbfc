"""gRPC servicer of the firehose: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.firehose.v1 import firehose_pb2, firehose_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "FirehoseApi", "add_to"]

_DESCRIPTOR: Final = firehose_pb2.DESCRIPTOR.services_by_name["FirehoseService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 5
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(firehose_pb2_grpc.FirehoseServiceServicer, _DESCRIPTOR, ISSUE)


class FirehoseApi(_Base):  # type: ignore[misc]
    """``relay.firehose.v1.FirehoseService``: RPCs answer UNIMPLEMENTED naming issue #5 until it lands."""


def add_to(server: GrpcServer, api: FirehoseApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(firehose_pb2_grpc.add_FirehoseServiceServicer_to_server, api, SERVICE_NAME)
