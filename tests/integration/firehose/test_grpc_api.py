"""FirehoseService over a real gRPC server: stats and the consumer list reflect real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from relay_firehose.grpc_api import SERVICE_NAME, FirehoseApi
from relay_proto.firehose.v1 import firehose_pb2, firehose_pb2_grpc

from tests.integration.firehose.conftest import FirehoseFactory, Publisher, receive

pytestmark = pytest.mark.integration


async def test_stats_and_consumers(
    publisher: Publisher,
    firehose_factory: FirehoseFactory,
    grpc_server_factory: Any,
    grpc_channel_factory: Any,
) -> None:
    await publisher.publish_commits(20)
    fh = await firehose_factory()
    api = FirehoseApi(fh.hub, replay_window_seconds=7200)
    server = await grpc_server_factory(
        firehose_pb2_grpc.add_FirehoseServiceServicer_to_server, api, SERVICE_NAME
    )
    stub = firehose_pb2_grpc.FirehoseServiceStub(grpc_channel_factory(server.port))
    async with (
        websockets.connect(fh.url, user_agent_header="live-test/1") as live,
        websockets.connect(f"{fh.url}?cursor=10", user_agent_header="replay-test/1") as replay,
    ):
        await receive(replay, 10)
        await asyncio.sleep(0.1)
        last = await publisher.publish_commits(5)
        await receive(live, 5)
        await receive(replay, 5)
        stats = await stub.GetStats(firehose_pb2.GetStatsRequest())
        consumers = (await stub.ListConsumers(firehose_pb2.ListConsumersRequest())).consumers
    assert (stats.first_seq, stats.last_seq, stats.consumer_count) == (1, last, 2)
    assert stats.replay_window_seconds == 7200 and stats.events_per_second > 0
    assert stats.oldest_event_at_us > 0
    by_agent = {c.user_agent: c for c in consumers}
    assert set(by_agent) == {"live-test/1", "replay-test/1"}
    assert by_agent["live-test/1"].state == "live" and by_agent["live-test/1"].sent_seq == last
    assert by_agent["replay-test/1"].start_cursor == 10
    assert by_agent["replay-test/1"].sent_events == 15 and by_agent["replay-test/1"].lag_seqs == 0
    assert all(c.remote_addr.startswith("127.0.0.1:") and c.connected_at_us > 0 for c in consumers)


async def test_scrub_rejects_a_bad_did(
    publisher: Publisher,
    firehose_factory: FirehoseFactory,
    grpc_server_factory: Any,
    grpc_channel_factory: Any,
) -> None:
    import grpc

    fh = await firehose_factory()
    api = FirehoseApi(fh.hub, replay_window_seconds=60)
    server = await grpc_server_factory(
        firehose_pb2_grpc.add_FirehoseServiceServicer_to_server, api, SERVICE_NAME
    )
    stub = firehose_pb2_grpc.FirehoseServiceStub(grpc_channel_factory(server.port))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ScrubAccount(firehose_pb2.ScrubAccountRequest(did="not a did"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
