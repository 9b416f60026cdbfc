"""The reference network harness itself: real PLC + PDS, consumed straight from the PDS's own
subscribeRepos by the verifying @atproto/sync consumer (no relay involved)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fixtures.reference_net import EventLine, FirehoseConsumer, ReferenceNet, ReferenceNetError

pytestmark = pytest.mark.e2e

ConsumerFactory = Callable[..., FirehoseConsumer]
POST = "app.bsky.feed.post"
CUSTOM = "com.example.relay.item"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _shape(event: EventLine) -> tuple[Any, ...]:
    """What an event says, minus CIDs and times: (type, detail...)."""
    kind = event["type"]
    if kind == "commit":
        return (kind, tuple((op["action"], op["path"].split("/")[0]) for op in event["ops"]))
    if kind == "account":
        return (kind, event["active"], event["status"])
    if kind == "identity":
        return (kind, event["handle"])
    return (kind,)


def _assert_chain(events: list[EventLine]) -> None:
    """Per repo: each commit's since/prevData continue the previous commit; #sync repeats the
    latest commit's rev."""
    last: EventLine | None = None
    for event in events:
        if event["type"] == "commit":
            if last is None:
                assert event["since"] is None and event["prevData"] is None, event
            else:
                assert event["since"] == last["rev"], (last, event)
                assert event["prevData"] == last["data"], (last, event)
                assert event["rev"] > last["rev"], (last, event)
            last = event
        elif event["type"] == "sync":
            assert last is not None and event["rev"] == last["rev"], (last, event)


async def test_account_lifecycle_arrives_verified_in_order(
    reference_net: ReferenceNet, firehose_consumer: ConsumerFactory
) -> None:
    net = reference_net
    live = firehose_consumer(net.pds_ws_url(), net)
    await live.wait_connected()

    alice = await net.create_account()
    post = await net.create_record(alice.did, POST, {"$type": POST, "text": "hello", "createdAt": _now()})
    put1 = await net.put_record(alice.did, CUSTOM, "self", {"$type": CUSTOM, "n": 1})
    put2 = await net.put_record(alice.did, CUSTOM, "self", {"$type": CUSTOM, "n": 2})
    batch, results = await net.apply_writes(
        alice.did,
        [
            {"action": "create", "collection": CUSTOM, "rkey": "b", "value": {"$type": CUSTOM, "n": 3}},
            {"action": "delete", "collection": CUSTOM, "rkey": "self"},
        ],
    )
    assert results[0]["uri"].endswith(f"/{CUSTOM}/b")
    deleted = await net.delete_record(alice.did, POST, post.uri.rsplit("/", 1)[1])
    new_handle = "re-" + alice.handle
    await net.update_handle(alice.did, new_handle)
    await net.deactivate_account(alice.did)
    await net.activate_account(alice.did)

    expected = [
        ("identity", alice.handle),
        ("account", True, None),
        ("commit", ()),
        ("sync",),
        ("commit", (("create", POST),)),
        ("commit", (("create", CUSTOM),)),
        ("commit", (("update", CUSTOM),)),
        ("commit", (("create", CUSTOM), ("delete", CUSTOM))),
        ("commit", (("delete", POST),)),
        ("identity", new_handle),
        ("account", False, "deactivated"),
        ("account", True, None),
        ("identity", new_handle),
        ("sync",),
    ]
    await live.wait_for(lambda e: e.get("did") == alice.did and e["type"] == "sync")
    first_sync_seq = next(
        e["seq"] for e in live.snapshot() if e.get("did") == alice.did and e["type"] == "sync"
    )
    await live.wait_for(
        lambda e: e.get("did") == alice.did and e["type"] == "sync" and e["seq"] > first_sync_seq
    )
    mine = [e for e in live.snapshot() if e.get("did") == alice.did]
    assert [_shape(e) for e in mine] == expected
    live.assert_clean()
    _assert_chain(mine)

    commits = [e for e in mine if e["type"] == "commit"]
    assert [(c["rev"], c["commit"]) for c in commits[1:]] == [
        (w.rev, w.commit_cid) for w in (post, put1, put2, batch, deleted)
    ]
    assert commits[1]["ops"][0]["cid"] == post.cid
    # The handle is checked against the DID document at the time the consumer sees the event.
    identities = [e for e in mine if e["type"] == "identity"]
    assert identities[0]["verifiedHandle"] in (alice.handle, new_handle)
    assert [e["verifiedHandle"] for e in identities[1:]] == [new_handle, new_handle]

    # Replaying the PDS's log from the start gives the very same events for this account.
    replay = firehose_consumer(net.pds_ws_url(), net, cursor=0)
    last_seq = mine[-1]["seq"]
    await replay.wait_for(lambda e: e["seq"] == last_seq)

    def without_handle_check(events: list[EventLine]) -> list[EventLine]:
        return [{k: v for k, v in e.items() if k != "verifiedHandle"} for e in events]

    replayed = [e for e in replay.snapshot() if e.get("did") == alice.did]
    assert without_handle_check(replayed) == without_handle_check(mine)
    replay.assert_clean()


async def test_two_pdses_load_and_moderation(
    reference_net_factory: Callable[..., ReferenceNet], firehose_consumer: ConsumerFactory
) -> None:
    net = reference_net_factory(pds_count=2)
    assert len(net.pds_urls) == 2 and net.pds_urls[0] != net.pds_urls[1]
    pds0 = firehose_consumer(net.pds_ws_url(0), net)
    await pds0.wait_connected()
    bob = await net.create_account(pds=1)
    assert bob.handle.endswith(".pds1.test") and bob.pds == net.pds_urls[1]
    carol = await net.create_account(pds=0)
    with pytest.raises(ReferenceNetError):
        await net.create_account("wrong-domain.pds1.test", pds=0)

    bulk = await net.bulk_create(bob.did, 30, batch_size=4)
    assert bulk.count == 30 and bulk.commits >= 8 and bulk.extra_posts >= 1

    def account_events() -> list[tuple[bool, str | None]]:
        return [(e["active"], e["status"]) for e in pds0.snapshot() if e["type"] == "account"]

    # NOTE: deleting an account erases its earlier events from the PDS's log, even ones not yet
    # sent to live subscribers, so wait for each status before the next change.
    await net.takedown_account(carol.did)
    taken = await pds0.wait_for(lambda e: e["type"] == "account" and e["status"] == "takendown")
    await net.takedown_account(carol.did, applied=False)
    await pds0.wait_for(lambda e: e["type"] == "account" and e["seq"] > taken["seq"])
    await net.delete_account(carol.did)

    pds1 = firehose_consumer(net.pds_ws_url(1), net, cursor=0)
    await pds1.wait_for(lambda e: e["type"] == "commit" and e["rev"] == bulk.rev)
    pds1.assert_clean()
    created = list(itertools.chain.from_iterable(e["ops"] for e in pds1.snapshot() if e["type"] == "commit"))
    collections = {op["path"].split("/")[0] for op in created}
    assert collections == {POST, "app.bsky.feed.like", CUSTOM}
    assert len(created) == 30 + bulk.extra_posts and all(op["action"] == "create" for op in created)
    _assert_chain([e for e in pds1.snapshot() if e.get("did") == bob.did])

    await pds0.wait_for(lambda e: e["type"] == "account" and e["status"] == "deleted")
    pds0.assert_clean()
    assert account_events() == [(True, None), (False, "takendown"), (True, None), (False, "deleted")]
    assert all(e.get("did") == carol.did for e in pds0.snapshot())

    # Replay after the deletion: only the deletion itself is left.
    replay = firehose_consumer(net.pds_ws_url(0), net, cursor=0)
    deletion = await replay.wait_for(lambda e: e["type"] == "account")
    assert (deletion["status"], replay.snapshot()) == ("deleted", [deletion])


async def test_consumer_reports_commits_it_cannot_verify(
    reference_net: ReferenceNet,
    reference_net_factory: Callable[..., ReferenceNet],
    firehose_consumer: ConsumerFactory,
) -> None:
    """The zero-errors assertion has teeth: resolving keys from a PLC that does not know the
    repo's DID makes every commit unverifiable."""
    dave = await reference_net.create_account()
    await reference_net.create_record(dave.did, POST, {"$type": POST, "text": "x", "createdAt": _now()})
    other = reference_net_factory()
    consumer = firehose_consumer(reference_net.pds_ws_url(), other, cursor=0)
    await consumer.wait_for(lambda e: e.get("did") == dave.did and e["type"] == "commit" and e["ops"])
    bad = [e for e in consumer.snapshot() if e.get("did") == dave.did and not e["verified"]]
    assert {e["type"] for e in bad} >= {"commit", "sync"}
    assert any(err.get("did") == dave.did for err in consumer.errors)
    with pytest.raises(AssertionError):
        consumer.assert_clean()
