"""gRPC servicer of the validator: the only module here that touches validator protobuf messages."""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Final

import grpc
from relay_proto.validator.v1 import validator_pb2, validator_pb2_grpc
from relay_runtime.grpc_server import GrpcServer

from relay_validator.service import ValidatorPipeline

__all__ = ["SERVICE_NAME", "ValidatorApi", "add_to"]

_DESCRIPTOR: Final = validator_pb2.DESCRIPTOR.services_by_name["ValidatorService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""
_RATE_WINDOW_SECONDS: Final = 60.0


class ValidatorApi(validator_pb2_grpc.ValidatorServiceServicer):  # type: ignore[misc]
    """``relay.validator.v1.ValidatorService``: a read-only view of the pipeline."""

    def __init__(self, pipeline: ValidatorPipeline) -> None:
        self._pipeline = pipeline
        self._samples: deque[tuple[float, int]] = deque(maxlen=256)

    def _rate(self, verified: int) -> float:
        """Events per second over the last minute, from the samples GetStats calls leave."""
        now = time.monotonic()
        self._samples.append((now, verified))
        while self._samples and now - self._samples[0][0] > _RATE_WINDOW_SECONDS:
            self._samples.popleft()
        then, count = self._samples[0]
        return (verified - count) / (now - then) if now > then else 0.0

    async def GetStats(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        stats = self._pipeline.stats()
        return validator_pb2.GetStatsResponse(
            events_per_second=self._rate(stats.events_verified),
            events_verified=stats.events_verified,
            drops=[validator_pb2.DropCount(reason=r, count=c) for r, c in sorted(stats.drops.items())],
            queue_depth=stats.queue_depth,
            partitions=list(stats.partitions),
        )


def add_to(server: GrpcServer, api: ValidatorApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(validator_pb2_grpc.add_ValidatorServiceServicer_to_server, api, SERVICE_NAME)
