"""Takedown and reversal end to end through VERIFIED and a running firehose replica; backfill,
consumers and stats relayed from the peers; a dead peer surfaces as UNAVAILABLE; the CLI."""

from __future__ import annotations

import io
import json

import grpc
import pytest
import websockets
from relay_admin.cli import build_parser, run_command
from relay_core.builders import AccountBuilder
from relay_core.firehose.frames import decode_frame, encode_frame
from relay_proto.admin.v1 import admin_pb2 as pb
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import VERIFIED, verified_subject

from tests.integration.admin.conftest import TOKEN, Relay, free_port, running_admin, wait_for

pytestmark = pytest.mark.integration


async def _commit(relay: Relay, account: AccountBuilder) -> int:
    built = account.commit([account.post("hello")])
    event = events_pb2.VerifiedEvent(
        did=account.did,
        host="pds.test",
        upstream_seq=1,
        kind="commit",
        frame=encode_frame("#commit", built.body),
    )
    ack = await jsx.publish(relay.js, verified_subject("commit"), event.SerializeToString())
    return int(ack.seq)


async def _read_until(
    ws: websockets.ClientConnection, last_seq: int
) -> list[tuple[str, str, int, dict[str, object]]]:
    out = []
    while True:
        frame = decode_frame(await ws.recv(decode=False))
        body = frame.body
        out.append((frame.type or "", str(body.get("repo") or body.get("did")), int(body["seq"]), body))
        if int(body["seq"]) >= last_seq:
            return out


async def _code(awaitable: object) -> tuple[grpc.StatusCode, str]:
    try:
        await awaitable  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


async def test_takedown_hides_the_account_on_the_firehose_and_reversal_restores_it(relay: Relay) -> None:
    md = relay.metadata
    alice, bob = AccountBuilder(), AccountBuilder()
    a1 = await _commit(relay, alice)
    await _commit(relay, bob)

    down = await relay.admin.TakedownAccount(
        pb.TakedownAccountRequest(did=alice.did, reason="abuse"), metadata=md
    )
    assert down.account.local_status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
    assert down.account.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
    assert down.event_seq == a1 + 2
    stored = (await relay.repos.get_accounts([alice.did]))[alice.did]
    assert stored.local_status.value == "takendown"
    msg = await relay.js.get_msg(VERIFIED.name, down.event_seq)
    event = events_pb2.VerifiedEvent.FromString(msg.data or b"")
    assert (event.kind, event.did, event.account.active) == ("account", alice.did, False)
    assert event.account.status == types_pb2.ACCOUNT_STATUS_TAKENDOWN
    await wait_for(lambda: alice.did in relay.hub.takedowns, what="firehose takedown set")

    a2 = await _commit(relay, alice)
    b2 = await _commit(relay, bob)
    async with websockets.connect(f"{relay.firehose_url}?cursor=0") as ws:
        seen = await _read_until(ws, b2)
    assert [(t, did, seq) for t, did, seq, _ in seen if did == alice.did] == [
        ("#account", alice.did, down.event_seq)
    ]
    takedown_body = next(body for t, _, _, body in seen if t == "#account")
    assert takedown_body["active"] is False and takedown_body["status"] == "takendown"
    assert a2 not in [seq for _, _, seq, _ in seen]

    status = await relay.admin.GetAccountStatus(pb.GetAccountStatusRequest(did=alice.did), metadata=md)
    assert status.account.local_status == types_pb2.ACCOUNT_STATUS_TAKENDOWN

    back = await relay.admin.ReverseTakedown(pb.ReverseTakedownRequest(did=alice.did), metadata=md)
    assert back.account.local_status == types_pb2.ACCOUNT_STATUS_ACTIVE
    await wait_for(lambda: alice.did not in relay.hub.takedowns, what="takedown lifted on the firehose")
    a3 = await _commit(relay, alice)
    async with websockets.connect(f"{relay.firehose_url}?cursor={back.event_seq - 1}") as ws:
        after = await _read_until(ws, a3)
    assert [(t, did, seq) for t, did, seq, _ in after] == [
        ("#account", alice.did, back.event_seq),
        ("#commit", alice.did, a3),
    ]
    assert after[0][3]["active"] is True and "status" not in after[0][3]

    code, details = await _code(
        relay.admin.ReverseTakedown(pb.ReverseTakedownRequest(did=alice.did), metadata=md)
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION and "not taken down" in details


async def test_takedown_with_scrub_deletes_replay_and_bad_dids_are_refused(relay: Relay) -> None:
    md = relay.metadata
    carol = AccountBuilder()
    await _commit(relay, carol)
    await _commit(relay, carol)
    down = await relay.admin.TakedownAccount(
        pb.TakedownAccountRequest(did=carol.did, scrub_replay=True), metadata=md
    )
    assert down.scrub_error == ""
    assert down.events_scrubbed == 2
    for did, code in (
        ("not-a-did", grpc.StatusCode.INVALID_ARGUMENT),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        got, _ = await _code(relay.admin.TakedownAccount(pb.TakedownAccountRequest(did=did), metadata=md))
        assert got is code
    unknown = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    got, details = await _code(
        relay.admin.GetAccountStatus(pb.GetAccountStatusRequest(did=unknown), metadata=md)
    )
    assert got is grpc.StatusCode.NOT_FOUND and "unknown account" in details
    got, _ = await _code(relay.admin.ReverseTakedown(pb.ReverseTakedownRequest(did=unknown), metadata=md))
    assert got is grpc.StatusCode.NOT_FOUND


async def test_backfill_is_started_watched_and_checked_through_the_indexer(relay: Relay) -> None:
    md = relay.metadata
    crawl = pb.StartBackfillRequest(kind=types_pb2.BACKFILL_KIND_CRAWL)
    started = await relay.admin.StartBackfill(crawl, metadata=md)
    job_id = started.progress.job_id
    assert job_id and started.progress.kind == types_pb2.BACKFILL_KIND_CRAWL
    views = [
        view
        async for view in relay.admin.WatchBackfillProgress(
            pb.WatchBackfillProgressRequest(job_id=job_id, follow=True), metadata=md
        )
    ]
    assert views and views[-1].progress.job_id == job_id
    assert views[-1].progress.state == types_pb2.BACKFILL_STATE_DONE
    assert views[-1].eta_seconds == 0
    code, _ = await _code(relay.admin.PauseBackfill(pb.PauseBackfillRequest(job_id=job_id), metadata=md))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    for pause, expected in (
        (pb.PauseBackfillRequest(job_id=""), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.PauseBackfillRequest(job_id="not-a-number"), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.PauseBackfillRequest(job_id="987654"), grpc.StatusCode.NOT_FOUND),
    ):
        code, details = await _code(relay.admin.PauseBackfill(pause, metadata=md))
        assert code is expected, details
    bad_imports = [
        pb.StartBackfillRequest(kind=types_pb2.BACKFILL_KIND_IMPORT, source="relay.example"),
        pb.StartBackfillRequest(
            kind=types_pb2.BACKFILL_KIND_IMPORT, source="https://r.example", collections=["x"]
        ),
        pb.StartBackfillRequest(
            kind=types_pb2.BACKFILL_KIND_IMPORT, source="https://r.example", hosts=["a.example"]
        ),
        pb.StartBackfillRequest(kind=types_pb2.BACKFILL_KIND_CRAWL, hosts=["http://a.example/"]),
    ]
    for request in bad_imports:
        code, _ = await _code(relay.admin.StartBackfill(request, metadata=md))
        assert code is grpc.StatusCode.INVALID_ARGUMENT


async def test_consumers_and_stats_come_from_the_peers(relay: Relay) -> None:
    md = relay.metadata
    async with websockets.connect(relay.firehose_url, user_agent_header="admin-test") as _ws:
        await wait_for(lambda: len(relay.hub.subscribers) == 1, what="consumer registered")
        consumers = await relay.admin.ListConsumers(pb.ListConsumersRequest(), metadata=md)
        assert [c.user_agent for c in consumers.consumers] == ["admin-test"]
        stats = await relay.admin.GetStats(pb.GetStatsRequest(), metadata=md)
    assert stats.firehose.consumer_count == 1
    assert stats.hosts_connected == 0
    assert list(stats.errors) == []
    health = {s.service: s.status for s in stats.services}
    assert health == {
        "admin": "SERVING",
        "slurper": "SERVING",
        "validator": "SERVING",
        "indexer": "SERVING",
        "firehose": "SERVING",
    }


async def test_a_dead_peer_is_unavailable_and_stats_still_answer(relay: Relay) -> None:
    dead = f"127.0.0.1:{free_port()}"
    addresses = {"slurper": dead, "validator": dead, "indexer": dead, "firehose": dead}
    async with running_admin(relay.js, addresses, timeout_seconds=2.0) as (_, channel):
        from relay_proto.admin.v1 import admin_pb2_grpc

        admin = admin_pb2_grpc.AdminServiceStub(channel)
        code, details = await _code(admin.ListHosts(pb.ListHostsRequest(), metadata=relay.metadata))
        assert code is grpc.StatusCode.UNAVAILABLE
        assert details.startswith("indexer unavailable") and dead in details
        code, details = await _code(admin.GetCrawlPolicy(pb.GetCrawlPolicyRequest(), metadata=relay.metadata))
        assert code is grpc.StatusCode.UNAVAILABLE and details.startswith("slurper unavailable")
        stats = await admin.GetStats(pb.GetStatsRequest(), metadata=relay.metadata)
        assert {s.service: s.status for s in stats.services if s.service != "admin"} == dict.fromkeys(
            ("slurper", "validator", "indexer", "firehose"), "UNREACHABLE"
        )
        assert sorted(e.split(" ")[0] for e in stats.errors) == ["firehose", "slurper", "validator"]


async def test_the_cli_speaks_the_same_api(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    addr = f"--addr=127.0.0.1:{relay.admin_port}"

    async def cli(*argv: str) -> str:
        out = io.StringIO()
        await run_command(build_parser().parse_args([addr, *argv]), out=out)
        return out.getvalue()

    monkeypatch.delenv("RELAY_ADMIN_TOKEN", raising=False)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await cli("bans", "list")
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", TOKEN)
    assert "public requestCrawl: on" in await cli("crawl", "on")
    assert "new hosts per day:   7" in await cli("crawl", "limit", "7")
    assert json.loads(await cli("--json", "crawl", "show")) == {
        "policy": {"public_request_crawl": True, "new_hosts_per_day": 7}
    }
    assert "banned example.com" in await cli("bans", "add", "example.com", "--reason", "spam")
    assert (await cli("bans", "list")).splitlines()[1].startswith("example.com")
    assert "HOST" in await cli("hosts", "list")
    assert "hosts connected:" in await cli("stats")
    dave = AccountBuilder()
    assert "status:       takendown" in await cli("--token", TOKEN, "accounts", "takedown", dave.did)
    assert "local:        active" in await cli("accounts", "restore", dave.did)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await cli("accounts", "status", "nope")
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
