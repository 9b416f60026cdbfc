"""gRPC servicer of the indexer: the only module here that touches protobuf messages."""

from __future__ import annotations

from typing import Any, Final

from relay_proto.indexer.v1 import indexer_pb2, indexer_pb2_grpc
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.unimplemented import unimplemented_servicer

__all__ = ["ISSUE", "SERVICE_NAME", "IndexerApi", "add_to"]

_DESCRIPTOR: Final = indexer_pb2.DESCRIPTOR.services_by_name["IndexerService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
ISSUE: Final = 6
"""The issue that builds this service's behaviour; until then its RPCs answer UNIMPLEMENTED."""


# Placeholders answer every RPC until defined below; a dynamic base, hence the one ignore.
_Base: Any = unimplemented_servicer(indexer_pb2_grpc.IndexerServiceServicer, _DESCRIPTOR, ISSUE)


class IndexerApi(_Base):  # type: ignore[misc]
    """``relay.indexer.v1.IndexerService``: RPCs answer UNIMPLEMENTED naming issue #6 until it lands."""


def add_to(server: GrpcServer, api: IndexerApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(indexer_pb2_grpc.add_IndexerServiceServicer_to_server, api, SERVICE_NAME)
