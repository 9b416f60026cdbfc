"""requestCrawl over real HTTP, the relay-loop guard, FutureCursor, oversized frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from relay_core.firehose.frames import encode_frame
from relay_indexer.host import HostStatus, HostUpsert
from relay_slurper import metrics
from relay_slurper.admission import AdmissionSource
from relay_slurper.errors import HostRefused
from relay_slurper.host_store import CrawlPolicy
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.integration.slurper.conftest import read_raw_frames, wait_for
from tools.netsim.network import Network

pytestmark = pytest.mark.integration

_DESCRIBE = "/xrpc/com.atproto.server.describeServer"


@contextlib.asynccontextmanager
async def hostile_host(
    on_subscribe: Callable[[ServerConnection], object], *, server_header: str = "test-pds"
) -> AsyncIterator[tuple[str, list[ServerConnection]]]:
    """A real WebSocket+HTTP server on loopback that answers describeServer like a PDS and
    then runs ``on_subscribe`` for each subscriber; yields (hostname, connections seen)."""
    seen: list[ServerConnection] = []

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith(_DESCRIBE):
            body = json.dumps({"did": "did:web:hostile.test", "availableUserDomains": []}).encode()
            headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        return None

    async def handler(connection: ServerConnection) -> None:
        seen.append(connection)
        result = on_subscribe(connection)
        if asyncio.iscoroutine(result):
            await result
        await connection.wait_closed()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        server_header=server_header,
        compression=None,
        max_size=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"localhost:{port}", seen


async def test_request_crawl_over_http_follows_the_host_and_answers_lexicon_errors(
    run_slurper, indexer, raw_stream
) -> None:
    async with Network.start(hosts=1, accounts_per_host=2) as net:
        slurper = await run_slurper()
        base = f"http://127.0.0.1:{slurper.http.port}/xrpc/com.atproto.sync.requestCrawl"
        host = net.hosts[0].hostname
        async with httpx.AsyncClient(trust_env=False) as http:
            ok = await http.post(base, json={"hostname": host})
            assert ok.status_code == 200, ok.text
            await wait_for(lambda: any(c.connected for c in slurper.registry.connections()), what="connected")
            stored = await indexer.hosts.get_host(host)
            assert stored is not None and stored.status is HostStatus.ACTIVE
            net.create_all()
            frames = await read_raw_frames(raw_stream, expected=len(net.ledger))
            assert [f.upstream_seq for f in frames] == [e.seq for e in net.ledger]

            again = await http.post(base, json={"hostname": host})
            assert again.status_code == 200  # already followed: nothing changes

            bad = [
                await http.post(base, json={"hostname": "127.0.0.1"}),
                await http.post(base, json={"hostname": "evil.example.com:8080"}),
                await http.post(base, json={}),
                await http.post(base, json={"hostname": 5}),
                await http.post(base, content=b"hostname=x", headers={"content-type": "text/plain"}),
                await http.post(base, content=b"{", headers={"content-type": "application/json"}),
            ]
            assert [r.status_code for r in bad] == [400] * 6
            assert {r.json()["error"] for r in bad} == {"InvalidRequest"}
            assert (await http.get(base)).status_code == 405

            await indexer.policy.add_domain_ban("banned.test", "spam")
            banned = await http.post(base, json={"hostname": "pds.banned.test"})
            assert (banned.status_code, banned.json()["error"]) == (400, "HostBanned")

            unreachable = await http.post(base, json={"hostname": "localhost:1"})
            assert unreachable.status_code == 400 and "describeServer" in unreachable.json()["message"]

            await slurper.admission.set_policy(CrawlPolicy(public_request_crawl=False, new_hosts_per_day=10))
            off = await http.post(base, json={"hostname": "localhost:2"})
            assert (off.status_code, off.json()["error"]) == (403, "Forbidden")


async def test_new_hosts_per_day_quota_applies_to_request_crawl_not_operators(run_slurper) -> None:
    async with Network.start(hosts=3, accounts_per_host=0) as net:
        slurper = await run_slurper(new_hosts_per_day=1)
        a, b, c = (h.hostname for h in net.hosts)
        assert await slurper.admission.admit(a, AdmissionSource.REQUEST_CRAWL)
        with pytest.raises(HostRefused) as info:
            await slurper.admission.admit(b, AdmissionSource.REQUEST_CRAWL)
        assert info.value.reason == "new_host_quota"
        assert await slurper.admission.admit(c, AdmissionSource.OPERATOR)


async def test_a_host_whose_server_header_says_relay_is_banned(run_slurper, indexer) -> None:
    slurper = await run_slurper()
    async with hostile_host(lambda ws: None, server_header="atproto-relay/0.1") as (hostname, seen):
        async with httpx.AsyncClient(trust_env=False) as http:
            base = f"http://127.0.0.1:{slurper.http.port}/xrpc/com.atproto.sync.requestCrawl"
            response = await http.post(base, json={"hostname": hostname})
        assert (response.status_code, response.json()["error"]) == (400, "HostBanned")
        stored = await indexer.hosts.get_host(hostname)
        assert stored is not None and stored.status is HostStatus.BANNED
        assert not seen and not slurper.registry.is_following(hostname)
        with pytest.raises(HostRefused):  # stays banned for every door
            await slurper.admission.admit(hostname, AdmissionSource.OPERATOR)


async def test_future_cursor_makes_the_host_idle(run_slurper, indexer) -> None:
    async with Network.start(hosts=1, accounts_per_host=1) as net:
        host = net.hosts[0].hostname
        net.create_all()
        await indexer.hosts.upsert_host(HostUpsert(hostname=host))
        await indexer.hosts.set_host_cursors([(host, 10_000)])
        slurper = await run_slurper()
        await wait_for(lambda: not slurper.registry.is_following(host), what="subscription end")
        stored = await indexer.hosts.get_host(host)
        assert stored is not None and stored.status is HostStatus.IDLE
        assert "FutureCursor" in (stored.status_reason or "")


async def test_an_oversized_frame_closes_the_connection_and_the_host_is_retried(
    run_slurper, raw_stream
) -> None:
    async def send_big_then_small(ws: ServerConnection) -> None:
        if len(seen) == 1:
            await ws.send(encode_frame("#commit", {"seq": 1, "blocks": b"x" * 5_100_000}))
        else:
            await ws.send(
                encode_frame("#identity", {"seq": 2, "did": "did:plc:abc", "time": "2024-01-01T00:00:00Z"})
            )

    before = metrics.DISCONNECTS_TOTAL.labels("frame_too_big")._value.get()
    async with hostile_host(send_big_then_small) as (hostname, seen):
        slurper = await run_slurper()
        assert await slurper.admission.admit(hostname, AdmissionSource.OPERATOR)
        await wait_for(lambda: len(seen) >= 2, what="reconnect after oversized frame")
        assert seen[0].close_code == 1009  # message too big, closed by the slurper
        frames = await read_raw_frames(raw_stream, expected=1)
        assert [f.upstream_seq for f in frames] == [2]
    assert metrics.DISCONNECTS_TOTAL.labels("frame_too_big")._value.get() == before + 1
