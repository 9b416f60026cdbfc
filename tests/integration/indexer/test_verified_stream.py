"""The VERIFIED consumer against a real nats-server: decode, apply in batches, ack after apply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_core.syntax import Did, Nsid
from relay_indexer.account import AccountStatus
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.event_applier import ApplyResult, EventApplier
from relay_indexer.verified_event import CommitEvent, IndexedEvent
from relay_indexer.verified_stream import consume_verified
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import ConsumerDef, Retention

from tests.helpers.streams import scratch_stream
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


async def _verified_stream(jetstream: JetStreamContext, name: str) -> ConsumerDef:
    """A VERIFIED-like limits stream of this test's own, and the indexer's durable on it."""
    await jsx.ensure_streams(jetstream, [scratch_stream(name, Retention.LIMITS)])
    return ConsumerDef(stream=name, durable="indexer", filter_subject=f"{name.lower()}.>", description="t")


async def _wait_until_acked(jetstream: JetStreamContext, name: str, count: int) -> None:
    """Until the indexer's durable on stream `name` has acked (or terminated) `count` messages."""
    info = None
    for _ in range(200):
        try:
            info = await jetstream.consumer_info(name, "indexer")
        except NotFoundError:  # the task has not created its consumer yet
            await asyncio.sleep(0.05)
            continue
        if info.ack_floor.stream_seq == count and info.num_pending == 0:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"consumer did not drain: {info}")


async def test_consumer_applies_and_acks(
    nats_client: NatsClient,
    jetstream: JetStreamContext,
    unique_name: Callable[[str], str],
    index: CollectionIndex,
    applier: EventApplier,
    stores: Stores,
) -> None:
    name = unique_name("V")
    consumer = await _verified_stream(jetstream, name)
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
        consume_verified(
            nats_client, jetstream, applier, stop=stop, consumer=consumer, fetch_timeout_seconds=0.2
        )
    )
    try:
        await _wait_until_acked(jetstream, name, len(messages) + 2)
    finally:
        stop.set()
        await task
    assert index.list_repos(CUSTOM, after=None, limit=10).dids == [A]  # B deactivated: hidden
    assert index.list_repos(Nsid("app.bsky.feed.post"), after=None, limit=10).dids == []
    accounts = await stores.repos.get_accounts([A, B])
    assert accounts[A].handle == "alice.test"
    assert accounts[B].status is AccountStatus.DEACTIVATED
    await jetstream.delete_stream(name)


class FlakyApplier:
    """The real applier behind a store outage: its first `failures` batches raise."""

    def __init__(self, inner: EventApplier, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.batches: list[list[str]] = []

    async def apply(self, events: list[IndexedEvent]) -> ApplyResult:
        self.batches.append([e.rev for e in events if isinstance(e, CommitEvent)])
        if self.failures:
            self.failures -= 1
            raise RuntimeError("postgres went away")
        return await self.inner.apply(events)


async def test_a_failed_batch_is_applied_again_before_anything_newer(
    nats_client: NatsClient,
    jetstream: JetStreamContext,
    unique_name: Callable[[str], str],
    index: CollectionIndex,
    applier: EventApplier,
) -> None:
    name = unique_name("V")
    consumer = await _verified_stream(jetstream, name)
    revs = [f"3l0000000000{i}" for i in range(1, 6)]
    flaky = FlakyApplier(applier, failures=2)
    stop = asyncio.Event()
    task = asyncio.create_task(
        consume_verified(
            nats_client,
            jetstream,
            flaky,
            stop=stop,
            consumer=consumer,
            batch_size=2,
            fetch_timeout_seconds=0.2,
        )
    )
    try:
        # A creates a post, later commits delete it: applied out of order, the delete would be
        # skipped as stale and the post would stay listed.
        await jsx.publish(
            jetstream,
            f"{name.lower()}.x",
            commit(A, revs[0], "", ("create", "app.bsky.feed.post")).SerializeToString(),
            msg_id="0",
        )
        await asyncio.sleep(0.1)
        for i in range(1, 5):
            action = ("delete", "app.bsky.feed.post") if i == 4 else ("create", CUSTOM)
            body = commit(A, revs[i], revs[i - 1], action).SerializeToString()
            await jsx.publish(jetstream, f"{name.lower()}.x", body, msg_id=str(i))
        await _wait_until_acked(jetstream, name, len(revs))
    finally:
        stop.set()
        await task
    assert flaky.batches[0] == flaky.batches[1] == flaky.batches[2]  # the same batch, twice more
    applied = [rev for batch in flaky.batches[2:] for rev in batch]
    assert applied == revs
    assert index.list_repos(Nsid("app.bsky.feed.post"), after=None, limit=10).dids == []
    assert index.list_repos(CUSTOM, after=None, limit=10).dids == [A]
    await jetstream.delete_stream(name)
