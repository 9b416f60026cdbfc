"""Takedowns: a taken-down account's events are hidden from live and replay, derived from the log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from relay_core.builders import AccountBuilder
from relay_core.firehose.frames import decode_frame
from relay_firehose.grpc_api import SERVICE_NAME, FirehoseApi
from relay_proto.firehose.v1 import firehose_pb2, firehose_pb2_grpc

from tests.integration.firehose.conftest import FirehoseFactory, Publisher, receive_until_seq

pytestmark = pytest.mark.integration


def summary(messages: list[bytes]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for m in messages:
        frame = decode_frame(m)
        out.append(
            (frame.type or "", str(frame.body.get("repo") or frame.body.get("did")), int(frame.body["seq"]))
        )
    return out


async def test_takedown_event_hides_account_from_replay_and_live(
    publisher: Publisher, firehose_factory: FirehoseFactory
) -> None:
    alice, bob = AccountBuilder(), AccountBuilder()
    a1 = await publisher.publish(publisher.commit_event(alice))
    b1 = await publisher.publish(publisher.commit_event(bob))
    down = await publisher.publish(publisher.account_event(alice, active=False, status="takendown"))
    a2 = await publisher.publish(publisher.commit_event(alice))
    b2 = await publisher.publish(publisher.commit_event(bob))
    # Started after the takedown: the replica learns it by scanning the window's #account events.
    fh = await firehose_factory()
    async with websockets.connect(f"{fh.url}?cursor=0") as replay, websockets.connect(fh.url) as live:
        replayed = await receive_until_seq(replay, b2)
        await asyncio.sleep(0.1)
        a3 = await publisher.publish(publisher.commit_event(alice))
        b3 = await publisher.publish(publisher.commit_event(bob))
        live_seen = await receive_until_seq(live, b3)
        back = await publisher.publish(publisher.account_event(alice, active=True, status=None))
        a4 = await publisher.publish(publisher.commit_event(alice))
        after = await receive_until_seq(live, a4)
    assert summary(replayed) == [
        ("#commit", bob.did, b1),
        ("#account", alice.did, down),
        ("#commit", bob.did, b2),
    ]
    assert summary(live_seen) == [("#commit", bob.did, b3)]
    assert summary(after) == [("#account", alice.did, back), ("#commit", alice.did, a4)]
    del a1, a2, a3


async def test_scrub_account_rpc_deletes_from_the_log(
    publisher: Publisher,
    firehose_factory: FirehoseFactory,
    grpc_server_factory: Any,
    grpc_channel_factory: Any,
) -> None:
    alice, bob = AccountBuilder(), AccountBuilder()
    b0 = await publisher.publish(publisher.commit_event(bob))
    await publisher.publish(publisher.commit_event(alice))
    await publisher.publish(publisher.commit_event(alice))
    b1 = await publisher.publish(publisher.commit_event(bob))
    fh = await firehose_factory()
    api = FirehoseApi(fh.hub, replay_window_seconds=3600)
    server = await grpc_server_factory(
        firehose_pb2_grpc.add_FirehoseServiceServicer_to_server, api, SERVICE_NAME
    )
    stub = firehose_pb2_grpc.FirehoseServiceStub(grpc_channel_factory(server.port))
    reply = await stub.ScrubAccount(firehose_pb2.ScrubAccountRequest(did=alice.did))
    assert reply.events_scrubbed == 2
    # A replica that never saw the RPC serves the same: the events are gone from the stream.
    other = await firehose_factory()
    for replica in (fh, other):
        async with websockets.connect(f"{replica.url}?cursor=0") as ws:
            assert summary(await receive_until_seq(ws, b1)) == [
                ("#commit", bob.did, b0),
                ("#commit", bob.did, b1),
            ]
