"""gRPC servicer of the firehose: the only module here that touches protobuf messages."""

from __future__ import annotations

import time
from typing import Final

import grpc
from relay_core.syntax import parse_did
from relay_proto.firehose.v1 import firehose_pb2, firehose_pb2_grpc
from relay_runtime.grpc_server import GrpcServer

from relay_firehose.hub import Hub
from relay_firehose.subscriber import Subscriber

__all__ = ["SERVICE_NAME", "FirehoseApi", "add_to", "to_proto_consumer"]

_DESCRIPTOR: Final = firehose_pb2.DESCRIPTOR.services_by_name["FirehoseService"]
SERVICE_NAME: Final[str] = _DESCRIPTOR.full_name
"""Fully qualified service name, as listed by reflection and used for gRPC health."""


def to_proto_consumer(hub: Hub, sub: Subscriber) -> firehose_pb2.Consumer:
    lag_seqs, lag_seconds = hub.lag(sub)
    return firehose_pb2.Consumer(
        id=str(sub.conn.id),
        remote_addr=sub.conn.remote_addr,
        user_agent=sub.conn.user_agent,
        connected_at_us=int(sub.connected_at * 1e6),
        start_cursor=sub.start_cursor or 0,
        sent_seq=sub.sent_seq,
        queued_events=lag_seqs,
        sent_events=sub.sent_events,
        lag_seqs=lag_seqs,
        lag_seconds=lag_seconds,
        state=sub.state.value,
        queued_bytes=sub.conn.buffer_size(),
    )


class FirehoseApi(firehose_pb2_grpc.FirehoseServiceServicer):
    """``relay.firehose.v1.FirehoseService`` over this replica's hub."""

    def __init__(self, hub: Hub, *, replay_window_seconds: float) -> None:
        self._hub = hub
        self._window = replay_window_seconds

    async def GetStats(
        self, request: firehose_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> firehose_pb2.GetStatsResponse:
        bounds = await self._hub.log.bounds()
        empty = bounds.first_seq > bounds.last_seq
        oldest_ns = None if empty else await self._hub.log.published_at_ns(bounds.first_seq)
        return firehose_pb2.GetStatsResponse(
            first_seq=0 if empty else bounds.first_seq,
            last_seq=bounds.last_seq,
            events_per_second=self._hub.rate.per_second(time.time()),
            consumer_count=len(self._hub.subscribers),
            replay_window_seconds=int(self._window),
            oldest_event_at_us=0 if oldest_ns is None else oldest_ns // 1000,
        )

    async def ListConsumers(
        self, request: firehose_pb2.ListConsumersRequest, context: grpc.aio.ServicerContext
    ) -> firehose_pb2.ListConsumersResponse:
        hub = self._hub
        return firehose_pb2.ListConsumersResponse(
            consumers=[to_proto_consumer(hub, s) for s in hub.subscribers]
        )

    async def ScrubAccount(
        self, request: firehose_pb2.ScrubAccountRequest, context: grpc.aio.ServicerContext
    ) -> firehose_pb2.ScrubAccountResponse:
        try:
            did = parse_did(request.did)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad did: {exc}")
        return firehose_pb2.ScrubAccountResponse(events_scrubbed=await self._hub.scrub(did))


def add_to(server: GrpcServer, api: FirehoseApi) -> None:
    """Register ``api`` on ``server`` (health and reflection list it by :data:`SERVICE_NAME`)."""
    server.add_service(firehose_pb2_grpc.add_FirehoseServiceServicer_to_server, api, SERVICE_NAME)
