"""The VERIFIED consumer against a real nats-server: decode, apply in batches, ack after apply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_core.syntax import Did, Nsid
from relay_indexer.account import AccountStatus
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.event_applier import EventApplier
from relay_indexer.verified_stream import consume_verified
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import ConsumerDef, Retention, StreamDef

from tests.integration.indexer.conftest import Stores

pytestmark = pytest.mark.integration

CUSTOM = Nsid("com.example.fancy.thing")
A = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
B = Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")


def commit(did: str, rev: str, since: str, *ops: tuple[str, str]) -> events_pb2.VerifiedEvent:
    return events_pb2.VerifiedEvent(
        did=did,
        host="pds.test",
        kind="commit",
        rev=rev,
        commit=events_pb2.CommitInfo(
            since=since, ops=[events_pb2.RepoOp(action=a, path=f"{c}/3jzfcijpj2z2a") for a, c in ops]
        ),
    )


async def test_consumer_applies_and_acks(
    jetstream: JetStreamContext,
    unique_name: Callable[[str], str],
    index: CollectionIndex,
    applier: EventApplier,
    stores: Stores,
) -> None:
    name = unique_name("V")
    stream = StreamDef(
        name=name, subjects=(f"{name.lower()}.*",), retention=Retention.LIMITS, description="test VERIFIED"
    )
    consumer = ConsumerDef(
        stream=name, durable="indexer", filter_subject=f"{name.lower()}.>", description="t"
    )
    await jsx.ensure_streams(jetstream, [stream])
    messages = [
        commit(A, "3l00000000001", "", ("create", CUSTOM), ("create", "app.bsky.feed.post")),
        commit(B, "3l00000000001", "", ("create", CUSTOM)),
        commit(A, "3l00000000002", "3l00000000001", ("delete", "app.bsky.feed.post")),
        events_pb2.VerifiedEvent(
            did=B,
            host="pds.test",
            kind="account",
            account=events_pb2.AccountInfo(active=False, status=types_pb2.ACCOUNT_STATUS_DEACTIVATED),
        ),
        events_pb2.VerifiedEvent(
            did=A,
            host="pds.test",
            kind="account",
            account=events_pb2.AccountInfo(active=True, status=types_pb2.ACCOUNT_STATUS_ACTIVE),
        ),
        events_pb2.VerifiedEvent(
            did=A,
            host="pds.test",
            kind="identity",
            identity=events_pb2.IdentityInfo(handle="alice.test", handle_verified=True),
        ),
    ]
    for i, message in enumerate(messages):
        await jsx.publish(jetstream, f"{name.lower()}.x", message.SerializeToString(), msg_id=str(i))
    await jsx.publish(jetstream, f"{name.lower()}.x", b"\xff not a protobuf", msg_id="bad")
    await jsx.publish(
        jetstream, f"{name.lower()}.x", commit("nope", "1", "").SerializeToString(), msg_id="bad2"
    )

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume_verified(jetstream, applier, stop=stop, consumer=consumer, fetch_timeout_seconds=0.2)
    )
    info = None
    try:
        for _ in range(100):
            try:
                info = await jetstream.consumer_info(name, "indexer")
            except NotFoundError:  # the task has not created its consumer yet
                await asyncio.sleep(0.05)
                continue
            done = info.delivered.stream_seq == len(messages) + 2
            if done and info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"consumer did not drain: {info}")
    finally:
        stop.set()
        await task
    assert index.list_repos(CUSTOM, after=None, limit=10).dids == [A]  # B deactivated: hidden
    assert index.list_repos(Nsid("app.bsky.feed.post"), after=None, limit=10).dids == []
    accounts = await stores.repos.get_accounts([A, B])
    assert accounts[A].handle == "alice.test"
    assert accounts[B].status is AccountStatus.DEACTIVATED
    await jetstream.delete_stream(name)
