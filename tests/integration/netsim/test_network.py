"""The simulator over real sockets: a real `websockets` client, the real PLC HTTP directory,
frames decoded and judged with relay_core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from relay_core.firehose.events import CommitEvent, InfoEvent, parse_event
from relay_core.firehose.frames import decode_frame
from relay_core.identity import parse_did_document
from relay_core.keys import PublicKey
from relay_core.syntax.did import parse_did
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.judge import OK, Judge
from tools.netsim.network import Network

pytestmark = pytest.mark.integration


@pytest.fixture
async def net() -> AsyncIterator[Network]:
    async with Network.start(hosts=3, accounts_per_host=5, seed="it", backlog_frames=50) as running:
        yield running


async def _frames(ws: ClientConnection, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        msg = await asyncio.wait_for(ws.recv(), 5.0)
        assert isinstance(msg, bytes)
        out.append(msg)
    return out


def _seq(frame: bytes) -> int:
    seq = decode_frame(frame).body["seq"]
    assert isinstance(seq, int)
    return seq


async def test_live_frames_decode_with_increasing_seq(net: Network) -> None:
    host0 = [did for did in net.dids if net.host_of(did).index == 0]
    async with connect(net.subscribe_url(0), max_size=None) as ws:
        for did in host0:
            net.create_account(did)
        frames = await _frames(ws, 4 * len(host0))
    seqs = [_seq(f) for f in frames]
    assert seqs == list(range(1, len(frames) + 1))
    assert [decode_frame(f).type for f in frames[:4]] == ["#identity", "#account", "#commit", "#sync"]


async def test_cursor_replay_outdated_and_future(net: Network) -> None:
    did = net.dids[0]
    net.create_account(did)
    for _ in range(56):
        net.commit(did)
    head = net.hosts[0].seq
    assert head == 60
    async with connect(net.subscribe_url(0, cursor=head - 3), max_size=None) as ws:
        assert [_seq(f) for f in await _frames(ws, 3)] == [head - 2, head - 1, head]
        net.commit(did)
        assert _seq((await _frames(ws, 1))[0]) == head + 1
    async with connect(net.subscribe_url(0, cursor=2), max_size=None) as ws:
        first, *rest = await _frames(ws, 51)
        info = parse_event(decode_frame(first))
        assert isinstance(info, InfoEvent) and info.name == "OutdatedCursor"
        assert [_seq(f) for f in rest] == list(range(head + 1 - 49, head + 2))
    async with connect(net.subscribe_url(0, cursor=head + 100), max_size=None) as ws:
        error = decode_frame((await _frames(ws, 1))[0])
        assert error.is_error and error.error == "FutureCursor"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def _plc_keys(net: Network, client: httpx.AsyncClient) -> dict[str, PublicKey]:
    keys = {}
    for did in net.dids:
        response = await client.get(f"{net.plc_url}/{did}")
        response.raise_for_status()
        identity = parse_did_document(response.json(), parse_did(did))
        assert identity.pds_endpoint == net.host_of(did).url
        keys[did] = identity.signing_key
    return keys


async def test_did_docs_resolve_and_every_frame_judged_as_ledgered(net: Network) -> None:
    urls = [net.subscribe_url(i) for i in range(3)]
    async with (
        httpx.AsyncClient() as client,
        connect(urls[0], max_size=None) as a,
        connect(urls[1], max_size=None) as b,
        connect(urls[2], max_size=None) as c,
    ):
        keys = await _plc_keys(net, client)
        net.create_all()
        for n, kind in enumerate(BrokenKind):
            did = net.dids[n % len(net.dids)]
            net.commit(did)
            net.commit(did, broken=kind)
            net.commit(did)
        ledger = list(net.ledger)
        judge = Judge(keys.__getitem__, lambda: time.time_ns() // 1000)
        received = {}
        for ws, host in zip((a, b, c), net.hosts, strict=True):
            count = sum(1 for e in ledger if e.host == host.hostname)
            received[host.hostname] = await _frames(ws, count)
    positions = {name: 0 for name in received}
    for entry in ledger:
        frame = received[entry.host][positions[entry.host]]
        positions[entry.host] += 1
        verdict = judge.judge(entry.host, frame)
        assert verdict == (OK if entry.broken is None else EXPECTED_REASON[entry.broken]), entry


async def test_key_rotation_and_handle_change_are_visible_in_plc(net: Network) -> None:
    did = net.dids[3]
    net.create_account(did)
    async with httpx.AsyncClient() as client, connect(net.subscribe_url(net.host_of(did).index)) as ws:
        old = (await client.get(f"{net.plc_url}/{did}")).json()
        await net.rotate_key(did)
        await net.change_handle(did, "renamed.pds0.test")
        entry = net.commit(did)
        new = (await client.get(f"{net.plc_url}/{did}")).json()
        frames = await _frames(ws, 3)
    assert new["verificationMethod"] != old["verificationMethod"]
    assert new["alsoKnownAs"] == ["at://renamed.pds0.test"]
    key = parse_did_document(new, parse_did(did)).signing_key
    judge = Judge(lambda _: key, lambda: time.time_ns() // 1000)
    assert [judge.judge("h", f) for f in frames] == [OK, OK, OK]
    commit = parse_event(decode_frame(frames[2]))
    assert isinstance(commit, CommitEvent) and str(commit.rev) == entry.rev


async def test_xrpc_routes(net: Network) -> None:
    net.create_all()
    host = net.hosts[1]
    async with httpx.AsyncClient(base_url=host.url) as client:
        described = (await client.get("/xrpc/com.atproto.server.describeServer")).json()
        assert described["availableUserDomains"] == [".pds1.test"]
        page = (await client.get("/xrpc/com.atproto.sync.listRepos", params={"limit": 2})).json()
        rest = (
            await client.get("/xrpc/com.atproto.sync.listRepos", params={"cursor": page["cursor"]})
        ).json()
        dids = [r["did"] for r in page["repos"] + rest["repos"]]
        assert dids == sorted(did for did in net.dids if net.host_of(did) is host)
        repo = (await client.get("/xrpc/com.atproto.repo.describeRepo", params={"repo": dids[0]})).json()
        assert repo["did"] == dids[0] and repo["didDoc"]["id"] == dids[0]
        missing = await client.get("/xrpc/com.atproto.sync.getRecord")
        assert missing.status_code == 404


async def test_workload_runs_at_rate_and_mixes_broken(net: Network) -> None:
    result = await net.run(rate=500, duration_seconds=1.0, broken_ratio=0.2, seed="it")
    assert result.events >= 400
    tally = net.group.tally
    assert tally.total == len(net.ledger) == result.events
    assert 0.1 < tally.broken / tally.total < 0.3
    assert tally.by_type["#commit"] > tally.by_type["#identity"]
