"""The whole relay against the reference implementation.

A real `@atproto/pds` (with its PLC) writes; the relay (six services under the dev supervisor, with
NATS and Postgres) crawls it, verifies every event and re-serves them; the reference verifying
consumer `@atproto/sync` reads the relay's firehose. Ground truth is the same consumer reading the
PDS directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from relay_devstack.stack import service_ports
from relay_proto.admin.v1 import admin_pb2, admin_pb2_grpc
from relay_proto.slurper.v1 import slurper_pb2, slurper_pb2_grpc

from tests.fixtures.reference_net import EventLine, FirehoseConsumer, ReferenceNet
from tests.fixtures.relay import RelayStack

pytestmark = pytest.mark.e2e

ConsumerFactory = Callable[..., FirehoseConsumer]
POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
CUSTOM = "com.example.relay.item"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def net(reference_net_factory: Callable[..., ReferenceNet]) -> ReferenceNet:
    """A network of its own, so no other test's writes reach this relay."""
    return reference_net_factory()


@pytest.fixture(scope="module")
def relay(relay_stack_factory: Callable[..., RelayStack], net: ReferenceNet) -> Iterator[RelayStack]:
    yield relay_stack_factory(
        {
            "RELAY_RESOLVER_PLC_URL": net.plc_url,
            "RELAY_SLURPER_UPSTREAM_RELAY": "off",
        }
    )


async def _connections(relay: RelayStack) -> list[Any]:
    async with grpc.aio.insecure_channel(relay.grpc_address("slurper")) as channel:
        stub = slurper_pb2_grpc.SlurperServiceStub(channel)
        response = await stub.ListConnections(slurper_pb2.ListConnectionsRequest(), timeout=5)
        return list(response.connections)


async def _crawl(relay: RelayStack, net: ReferenceNet) -> None:
    """requestCrawl through the public origin, then wait until the subscription is open (a new host
    is followed live, so writes before that would not be relayed)."""
    async with httpx.AsyncClient(base_url=relay.origin, timeout=10) as client:
        response = await client.post("/xrpc/com.atproto.sync.requestCrawl", json={"hostname": net.pds_host()})
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(c.hostname == net.pds_host() and c.connected for c in await _connections(relay)):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"relay never connected to {net.pds_host()}:\n{relay.log_tail('slurper')}")


def _key(event: EventLine) -> tuple[Any, ...]:
    """What must match between the PDS's stream and the relay's: the event, minus seq and time."""
    kind = event["type"]
    if kind == "commit":
        ops = tuple((op["action"], op["path"], op.get("cid")) for op in event["ops"])
        return (kind, event["did"], event["rev"], event["commit"], ops)
    if kind == "sync":
        return (kind, event["did"], event["rev"])
    if kind == "account":
        return (kind, event["did"], event["active"], event.get("status"))
    return (kind, event["did"])


async def _list_repos_by_collection(relay: RelayStack, collection: str, limit: int) -> list[str]:
    """Every DID in ``collection``, paging at ``limit``."""
    dids: list[str] = []
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=relay.origin, timeout=10) as client:
        while True:
            params: dict[str, Any] = {"collection": collection, "limit": limit}
            if cursor:
                params["cursor"] = cursor
            response = await client.get("/xrpc/com.atproto.sync.listReposByCollection", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert len(body["repos"]) <= limit
            dids += [repo["did"] for repo in body["repos"]]
            cursor = body.get("cursor")
            if not cursor or not body["repos"]:
                return dids


async def _eventually(check: Callable[[], Any], timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await check()
            return
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: {last}")


async def test_pds_to_consumer_through_the_relay(
    relay: RelayStack, net: ReferenceNet, firehose_consumer: ConsumerFactory
) -> None:
    await _crawl(relay, net)
    truth = firehose_consumer(net.pds_ws_url(), net, cursor=0)
    through_relay = firehose_consumer(relay.firehose_ws, net, cursor=0)
    await truth.wait_connected()

    alice = await net.create_account()
    bob = await net.create_account()
    post = await net.create_record(alice.did, POST, {"$type": POST, "text": "hello", "createdAt": _now()})
    await net.create_record(
        bob.did, LIKE, {"$type": LIKE, "subject": {"uri": post.uri, "cid": post.cid}, "createdAt": _now()}
    )
    await net.put_record(alice.did, CUSTOM, "self", {"$type": CUSTOM, "n": 1})
    await net.put_record(alice.did, CUSTOM, "self", {"$type": CUSTOM, "n": 2})
    await net.put_record(bob.did, CUSTOM, "only", {"$type": CUSTOM, "n": 3})
    await net.delete_record(bob.did, CUSTOM, "only")
    await net.update_handle(alice.did, "renamed-" + alice.handle)
    await net.deactivate_account(bob.did)
    await net.activate_account(bob.did)
    final = await net.create_record(bob.did, POST, {"$type": POST, "text": "back", "createdAt": _now()})

    def is_final(event: EventLine) -> bool:
        return event["type"] == "commit" and event.get("commit") == final.commit_cid

    await truth.wait_for(is_final, 30)
    expected = [_key(e) for e in truth.snapshot()]
    await through_relay.wait_for(is_final, 60)
    await asyncio.sleep(1.0)  # anything after the last commit (none expected) would show up now

    through_relay.assert_clean()
    got = [_key(e) for e in through_relay.snapshot()]
    missing = [k for k in expected if k not in got]
    assert not missing, f"events the PDS emitted that the relay did not serve: {missing}"
    commits_in_order = [k for k in got if k[0] == "commit"]
    assert commits_in_order == [k for k in expected if k[0] == "commit"], "commit order differs"

    # The collection directory follows creates and deletes, paginating at small limits.
    async def directory_matches() -> None:
        assert sorted(await _list_repos_by_collection(relay, POST, 1)) == sorted([alice.did, bob.did])
        assert await _list_repos_by_collection(relay, LIKE, 1) == [bob.did]
        assert await _list_repos_by_collection(relay, CUSTOM, 1) == [alice.did]

    await _eventually(directory_matches, 30, "listReposByCollection does not match the PDS")


async def test_firehose_killed_mid_stream_consumers_resume_from_their_cursor(
    relay: RelayStack, net: ReferenceNet, firehose_consumer: ConsumerFactory
) -> None:
    await _crawl(relay, net)
    carol = await net.create_account()
    consumer = firehose_consumer(relay.firehose_ws, net, cursor=0)
    await consumer.wait_connected()

    writes = []
    for n in range(30):
        if n == 10:
            os.kill(relay.pid_of("firehose"), signal.SIGKILL)  # the dev supervisor restarts it
        writes.append(await net.create_record(carol.did, CUSTOM, {"$type": CUSTOM, "n": n}))
    last = writes[-1]
    await consumer.wait_for(lambda e: e["type"] == "commit" and e.get("commit") == last.commit_cid, 90)

    # Zero verification errors and seq strictly increasing (so no duplicates); the consumer saw the
    # outage as failed reconnects, then resumed from its cursor.
    consumer.assert_clean(allow_reconnects=True)
    served = {e["commit"] for e in consumer.snapshot() if e["type"] == "commit" and e["did"] == carol.did}
    assert {w.commit_cid for w in writes} <= served, "commits lost across the firehose restart"


async def test_late_replay_from_cursor_zero_matches_the_live_stream(
    relay: RelayStack, net: ReferenceNet, firehose_consumer: ConsumerFactory
) -> None:
    await _crawl(relay, net)
    dave = await net.create_account()
    live = firehose_consumer(relay.firehose_ws, net)
    await live.wait_connected()
    last = None
    for n in range(5):
        last = await net.create_record(dave.did, POST, {"$type": POST, "text": f"#{n}", "createdAt": _now()})
    assert last is not None

    def is_last(event: EventLine) -> bool:
        return event["type"] == "commit" and event.get("commit") == last.commit_cid

    await live.wait_for(is_last, 60)
    replay = firehose_consumer(relay.firehose_ws, net, cursor=0)
    await replay.wait_for(is_last, 60)
    replay.assert_clean()
    live.assert_clean()
    replayed = {(e["seq"], _key(e)) for e in replay.snapshot()}
    assert {(e["seq"], _key(e)) for e in live.snapshot()} <= replayed, "replay differs from what was live"


async def _admin(relay: RelayStack) -> tuple[grpc.aio.Channel, Any, tuple[tuple[str, str], ...]]:
    channel = grpc.aio.insecure_channel(relay.grpc_address("admin"))
    return (
        channel,
        admin_pb2_grpc.AdminServiceStub(channel),
        (("authorization", f"Bearer {relay.admin_token}"),),
    )


async def test_takedown_hides_an_account_everywhere_and_reversal_restores_it(
    relay: RelayStack, net: ReferenceNet, firehose_consumer: ConsumerFactory
) -> None:
    await _crawl(relay, net)
    erin, frank = await net.create_account(), await net.create_account()
    await net.create_record(erin.did, POST, {"$type": POST, "text": "before", "createdAt": _now()})
    await net.create_record(frank.did, POST, {"$type": POST, "text": "before", "createdAt": _now()})
    live = firehose_consumer(relay.firehose_ws, net)
    await live.wait_connected()

    async def listed(did: str, expected: bool) -> None:
        assert (did in await _list_repos_by_collection(relay, POST, 100)) is expected

    await _eventually(lambda: listed(erin.did, True), 30, "erin never listed")

    channel, admin, auth = await _admin(relay)
    async with channel:
        down = await admin.TakedownAccount(
            admin_pb2.TakedownAccountRequest(did=erin.did, reason="e2e"), metadata=auth, timeout=10
        )
        # Matched by seq: the account's own creation-time #account may still be arriving.
        announced = await live.wait_for(lambda e: e["seq"] == down.event_seq, 30)
        assert (announced["type"], announced["did"], announced["active"], announced["status"]) == (
            "account",
            erin.did,
            False,
            "takendown",
        )

        hidden = await net.create_record(
            erin.did, POST, {"$type": POST, "text": "hidden", "createdAt": _now()}
        )
        shown = await net.create_record(
            frank.did, POST, {"$type": POST, "text": "shown", "createdAt": _now()}
        )
        await live.wait_for(lambda e: e["type"] == "commit" and e.get("commit") == shown.commit_cid, 60)
        await _eventually(lambda: listed(erin.did, False), 30, "taken-down account still listed")
        await listed(frank.did, True)
        # Nothing of erin's after the takedown, live or replayed; replay hides all of erin's commits.
        after = [e for e in live.snapshot() if e["seq"] > down.event_seq]
        assert not [e for e in after if e["type"] == "commit" and e["did"] == erin.did]
        replay = firehose_consumer(relay.firehose_ws, net, cursor=0)
        await replay.wait_for(lambda e: e["type"] == "commit" and e.get("commit") == shown.commit_cid, 60)
        assert not [e for e in replay.snapshot() if e["type"] == "commit" and e["did"] == erin.did]

        up = await admin.ReverseTakedown(
            admin_pb2.ReverseTakedownRequest(did=erin.did), metadata=auth, timeout=10
        )
        restored = await live.wait_for(
            lambda e: e["type"] == "account" and e["did"] == erin.did and e["seq"] == up.event_seq, 30
        )
        assert restored["active"] is True
        back = await net.create_record(erin.did, POST, {"$type": POST, "text": "back", "createdAt": _now()})
        await live.wait_for(lambda e: e["type"] == "commit" and e.get("commit") == back.commit_cid, 60)
        assert hidden.commit_cid not in {e.get("commit") for e in live.snapshot()}
        await _eventually(lambda: listed(erin.did, True), 30, "restored account not listed again")
        live.assert_clean()

        with pytest.raises(grpc.aio.AioRpcError) as again:
            await admin.ReverseTakedown(
                admin_pb2.ReverseTakedownRequest(did=erin.did), metadata=auth, timeout=10
            )
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("service", "grpc_service"),
    [
        ("slurper", "relay.slurper.v1.SlurperService"),
        ("validator", "relay.validator.v1.ValidatorService"),
        ("resolver", "relay.resolver.v1.ResolverService"),
        ("indexer", "relay.indexer.v1.IndexerService"),
        ("firehose", "relay.firehose.v1.FirehoseService"),
        ("admin", "relay.admin.v1.AdminService"),
    ],
)
async def test_every_service_answers_health_metrics_and_reflection(
    relay: RelayStack, service: str, grpc_service: str
) -> None:
    ops = f"http://127.0.0.1:{service_ports(service, relay.port_offset).ops}"
    async with httpx.AsyncClient(base_url=ops, timeout=5) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and f'service="{service}"' in metrics.text
    async with grpc.aio.insecure_channel(relay.grpc_address(service)) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=grpc_service), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        # What `grpcurl -plaintext host:port list` asks: no token needed, even on admin.
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names = [
            s.name
            async for response in reflection.ServerReflectionInfo(iter([request]))
            for s in response.list_services_response.service
        ]
        assert grpc_service in names and "grpc.health.v1.Health" in names
