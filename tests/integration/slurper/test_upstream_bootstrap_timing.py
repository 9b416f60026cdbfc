"""Measurement (not run by default): time from slurper start to every listed host connected.

    RELAY_BENCH_BOOTSTRAP_HOSTS=500 RELAY_BENCH_BOOTSTRAP_TARPITS=10 uv run --frozen pytest \
        tests/integration/slurper/test_upstream_bootstrap_timing.py -m integration -s

A fake upstream relay (real uvicorn, paged listHosts) lists N netsim hosts plus T tarpits (accept,
never answer: each probe runs into the probe timeout, 3 s here); ``RELAY_BENCH_BOOTSTRAP_CONCURRENCY``
overrides ``upstream_admit_concurrency``. Slurper, indexer servicer and netsim share one process and
event loop. Prints one markdown row: time to all reachable hosts connected, then one re-poll's time
(docs/benchmarks.md, "Slurper").
"""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from tests.integration.slurper.conftest import wait_for
from tests.integration.slurper.upstream_relay import ListedHost, running_upstream_relay, tarpit
from tools.netsim.network import Network

pytestmark = pytest.mark.integration

_HOSTS = int(os.environ.get("RELAY_BENCH_BOOTSTRAP_HOSTS", "0"))
_TARPITS = int(os.environ.get("RELAY_BENCH_BOOTSTRAP_TARPITS", "0"))
_EXTRA = (
    {"upstream_admit_concurrency": int(c)}
    if (c := os.environ.get("RELAY_BENCH_BOOTSTRAP_CONCURRENCY"))
    else {}
)


@pytest.mark.skipif(_HOSTS <= 0, reason="measurement: set RELAY_BENCH_BOOTSTRAP_HOSTS")
async def test_bootstrap_time_to_all_connected(run_slurper) -> None:
    async with contextlib.AsyncExitStack() as stack:
        net = await stack.enter_async_context(Network.start(hosts=_HOSTS, accounts_per_host=0))
        pits = [await stack.enter_async_context(tarpit()) for _ in range(_TARPITS)]
        listed = [ListedHost(h.hostname) for h in net.hosts]
        # Tarpits early in the list, where a sequential bootstrap stalls on them first.
        for i, pit in enumerate(pits):
            listed.insert(i * (len(listed) // max(1, len(pits))), ListedHost(pit))
        relay = await stack.enter_async_context(running_upstream_relay(listed))
        started = time.monotonic()
        slurper = await run_slurper(upstream_relay=relay.url, probe_timeout_seconds=3.0, **_EXTRA)
        await wait_for(
            lambda: sum(c.connected for c in slurper.registry.connections()) >= _HOSTS,
            within_seconds=600,
            what="every reachable host connected",
        )
        elapsed = time.monotonic() - started
        upstream = getattr(slurper, "upstream", None)  # None: the code before UpstreamPoller
        repoll = ""
        if upstream is not None:
            await wait_for(lambda: upstream.last_summary is not None, within_seconds=60, what="first poll")
            again = await upstream.poll_once()
            assert again.admitted == 0 and again.already_known == _HOSTS
            repoll = f"{again.seconds:.2f} s"
        print(f"\n| {_HOSTS} | {_TARPITS} | {_EXTRA or 'default'} | {elapsed:.1f} s | {repoll} |")
