"""Relay-wide numbers and health, gathered from every peer at once.

Each peer is asked concurrently and independently: a peer that is down leaves its numbers unset
and adds a line to ``errors`` rather than failing the whole answer, because ``stats`` is what an
operator runs when something is wrong.
"""

from __future__ import annotations

import asyncio

from relay_proto.admin.v1 import admin_pb2
from relay_proto.firehose.v1 import firehose_pb2
from relay_proto.slurper.v1 import slurper_pb2
from relay_proto.validator.v1 import validator_pb2

from relay_admin.errors import PeerError
from relay_admin.peers import PeerHealth, Peers

__all__ = ["StatsOperations"]


def _to_proto_health(health: PeerHealth) -> admin_pb2.ServiceHealth:
    return admin_pb2.ServiceHealth(
        service=health.service, address=health.address, status=health.status, error=health.error
    )


class StatsOperations:
    """``GetStats`` and ``ListConsumers``."""

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def consumers(self) -> list[firehose_pb2.Consumer]:
        reply = await self._peers.call(
            "firehose",
            self._peers.firehose.ListConsumers,
            firehose_pb2.ListConsumersRequest(),
            firehose_pb2.ListConsumersResponse,
        )
        return list(reply.consumers)

    async def stats(self) -> admin_pb2.GetStatsResponse:
        p = self._peers
        connections, validator, firehose, *health = await asyncio.gather(
            p.call("slurper", p.slurper.ListConnections, slurper_pb2.ListConnectionsRequest(),
                   slurper_pb2.ListConnectionsResponse),
            p.call("validator", p.validator.GetStats, validator_pb2.GetStatsRequest(),
                   validator_pb2.GetStatsResponse),
            p.call("firehose", p.firehose.GetStats, firehose_pb2.GetStatsRequest(),
                   firehose_pb2.GetStatsResponse),
            *(p.health(name) for name in p.names),
            return_exceptions=True,
        )  # fmt: skip
        out = admin_pb2.GetStatsResponse()
        out.services.append(admin_pb2.ServiceHealth(service="admin", status="SERVING"))
        out.services.extend(_to_proto_health(h) for h in health if isinstance(h, PeerHealth))
        for part in (connections, validator, firehose):
            if isinstance(part, PeerError):
                out.errors.append(str(part))
            elif isinstance(part, BaseException):
                raise part
        if isinstance(connections, slurper_pb2.ListConnectionsResponse):
            live = [c for c in connections.connections if c.connected]
            out.hosts_connected = len(live)
            out.ingest_events_per_second = sum(c.events_per_second for c in live)
        if isinstance(validator, validator_pb2.GetStatsResponse):
            out.verified_events_per_second = validator.events_per_second
            out.validator_queue_depth = validator.queue_depth
            out.events_verified = validator.events_verified
            out.drops.extend(validator.drops)
        if isinstance(firehose, firehose_pb2.GetStatsResponse):
            out.firehose.CopyFrom(firehose)
        return out
