"""kill -9 of the slurper process mid-stream, then a restart: no frame is lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from nats.js import JetStreamContext
from relay_indexer.host import HostUpsert

from tests.integration.slurper.conftest import Indexer, read_raw_frames
from tools.netsim.network import Network

pytestmark = pytest.mark.integration


def _start(nats_url: str, indexer_address: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "RELAY_INDEXER_ADDRESS": indexer_address,
        "RELAY_DEV_MODE": "true",
        "RELAY_SLURPER_GRPC_PORT": "0",
        "RELAY_SLURPER_OPS_PORT": "0",
        "RELAY_SLURPER_HTTP_PORT": "0",
        "RELAY_SLURPER_UPSTREAM_RELAY": "off",
        "RELAY_SLURPER_CURSOR_FLUSH_SECONDS": "300ms",
        "RELAY_SLURPER_BACKOFF_BASE_SECONDS": "50ms",
        "LOG_LEVEL": os.environ.get("SLURPER_TEST_LOG_LEVEL", "WARNING"),
    }
    log = open(os.environ.get("SLURPER_TEST_LOG", os.devnull), "ab")
    return subprocess.Popen([sys.executable, "-m", "relay_slurper"], env=env, stdout=log, stderr=log)


async def _stream_count(js: JetStreamContext) -> int:
    return int((await js.stream_info("RAW_FRAMES")).state.messages)


async def test_kill_9_mid_stream_then_restart_loses_nothing(
    nats_server: str, indexer: Indexer, raw_stream: JetStreamContext
) -> None:
    async with Network.start(hosts=2, accounts_per_host=3) as net:
        for host in net.hosts:
            await indexer.hosts.upsert_host(HostUpsert(hostname=host.hostname))
        net.create_all()  # before the slurper ever connected: new hosts start live, so not expected
        skipped = len(net.ledger)
        process = _start(nats_server, indexer.address)
        try:

            async def produce(rounds: int) -> None:
                for _ in range(rounds):
                    for did in net.dids:
                        net.commit(did)
                    await asyncio.sleep(0.01)

            # Wait for both subscriptions to be live, then stream while the process dies.
            while any(not listener_has_subscriber(net, i) for i in range(len(net.hosts))):  # noqa: ASYNC110 - state of another process
                await asyncio.sleep(0.05)
            producer = asyncio.create_task(produce(60))
            while await _stream_count(raw_stream) < 100:  # noqa: ASYNC110 - the server's count
                await asyncio.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            # Waited on in a thread: this loop also serves the netsim hosts the slurper talks to.
            await asyncio.to_thread(process.wait, 10)
            await asyncio.sleep(0.3)  # frames sent while no slurper runs stay in the hosts' backlogs
            process = _start(nats_server, indexer.address)
            await producer
            expected = [(e.host, e.seq) for e in net.ledger[skipped:]]
            frames = await read_raw_frames(raw_stream, expected=len(expected), wait_seconds=30)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 20)
        got = [(f.host, f.upstream_seq) for f in frames]
        assert not [k for k, n in Counter(got).items() if n > 1]  # JetStream absorbed the replay
        assert sorted(got) == sorted(expected)
        for name in {h for h, _ in expected}:  # per-host order survives the crash
            assert [s for h, s in got if h == name] == [s for h, s in expected if h == name]


def listener_has_subscriber(net: Network, index: int) -> bool:
    return bool(net.group.listeners[index].subscribers)
