"""The services admin talks to: one gRPC stub each, one deadline, one error translation.

Admin is a gateway: its answers are its peers' contract messages (``relay.types.v1`` hosts,
bans, policies, progress), passed through unconverted, so the operations modules see protobuf
messages of the shared vocabulary and nothing else of gRPC. Every failed call becomes a
:class:`~relay_admin.errors.PeerError` naming the peer and the method, so an operator reading
"indexer unavailable (UNAVAILABLE on GetHost)" knows which process to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from relay_proto.firehose.v1 import firehose_pb2_grpc
from relay_proto.indexer.v1 import indexer_pb2_grpc
from relay_proto.slurper.v1 import slurper_pb2_grpc
from relay_proto.validator.v1 import validator_pb2_grpc

from relay_admin import metrics
from relay_admin.errors import PeerError

__all__ = ["HEALTH_UNREACHABLE", "PeerHealth", "Peers"]

_Response = TypeVar("_Response", bound=Message)
_HEALTH_TIMEOUT_SECONDS: Final = 2.0
HEALTH_UNREACHABLE: Final = "UNREACHABLE"
"""Status reported for a peer whose health check itself failed."""


@dataclass(frozen=True, slots=True)
class PeerHealth:
    """One peer's gRPC health as seen from admin."""

    service: str
    address: str
    status: str
    """SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN or :data:`HEALTH_UNREACHABLE`."""
    error: str = ""


def _method(request: Message) -> str:
    return request.DESCRIPTOR.name.removesuffix("Request")


class Peers:
    """Stubs of slurper, validator, indexer and firehose over channels the caller owns.

    Args:
        channels: One channel per peer name (``slurper``, ``validator``, ``indexer``, ``firehose``).
        addresses: The address of each channel, for messages and health reports.
        timeout_seconds: Deadline of each unary call.
    """

    def __init__(
        self,
        channels: Mapping[str, grpc.aio.Channel],
        addresses: Mapping[str, str],
        *,
        timeout_seconds: float,
    ) -> None:
        self._channels = dict(channels)
        self._addresses = dict(addresses)
        self._timeout = timeout_seconds
        self.slurper = slurper_pb2_grpc.SlurperServiceStub(channels["slurper"])
        self.validator = validator_pb2_grpc.ValidatorServiceStub(channels["validator"])
        self.indexer = indexer_pb2_grpc.IndexerServiceStub(channels["indexer"])
        self.firehose = firehose_pb2_grpc.FirehoseServiceStub(channels["firehose"])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def address(self, peer: str) -> str:
        return self._addresses.get(peer, "?")

    async def call(self, peer: str, rpc: Any, request: Message, response_type: type[_Response]) -> _Response:
        """``await rpc(request)`` with the deadline; failures become :class:`PeerError`.

        ``response_type`` is what the stub answers; it is checked so that a wrong stub/method
        pairing fails loudly here instead of as an attribute error further on.
        """
        try:
            response = await rpc(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(peer, request, exc) from exc
        if not isinstance(response, response_type):
            raise TypeError(f"{peer} {_method(request)} answered {type(response).__name__}")
        return response

    async def stream(
        self, peer: str, rpc: Any, request: Message, response_type: type[_Response]
    ) -> AsyncIterator[_Response]:
        """Iterate a server stream (no deadline: a followed stream lasts as long as the job)."""
        call = rpc(request)
        try:
            async for item in call:
                if not isinstance(item, response_type):
                    raise TypeError(f"{peer} {_method(request)} streamed {type(item).__name__}")
                yield item
        except grpc.aio.AioRpcError as exc:
            raise self._error(peer, request, exc) from exc
        finally:
            call.cancel()

    async def health(self, peer: str) -> PeerHealth:
        """The peer's overall gRPC health (service ``""``); never raises."""
        stub = health_pb2_grpc.HealthStub(self._channels[peer])
        address = self.address(peer)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=_HEALTH_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            return PeerHealth(peer, address, HEALTH_UNREACHABLE, f"{exc.code().name}: {exc.details()}")
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return PeerHealth(peer, address, status)

    def _error(self, peer: str, request: Message, exc: grpc.aio.AioRpcError) -> PeerError:
        code = exc.code()
        metrics.PEER_ERRORS_TOTAL.labels(peer, code.name).inc()
        details = exc.details() or ""
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            details = f"{self.address(peer)}: {details}"
        return PeerError(peer, _method(request), code, details)
