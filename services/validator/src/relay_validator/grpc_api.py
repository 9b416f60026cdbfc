"""gRPC servicer of the validator: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.validator.v1 import validator_pb2, validator_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "ValidatorApi", "add_to"]

_DESCRIPTOR: Final = validator_pb2.DESCRIPTOR.services_by_name["ValidatorService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 4
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(validator_pb2_grpc.ValidatorServiceServicer, _DESCRIPTOR, ISSUE)


class ValidatorApi(_Base):  # type: ignore[misc]
    """``relay.validator.v1.ValidatorService``: RPCs answer UNIMPLEMENTED naming issue #4 until it lands."""


def add_to(server: GrpcServer, api: ValidatorApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(validator_pb2_grpc.add_ValidatorServiceServicer_to_server, api, SERVICE_NAME)
