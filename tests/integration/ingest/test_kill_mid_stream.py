"""kill -9 of the slurper, or of the validator, while events stream at a steady rate; the killed
process is started again on the same ports → VERIFIED is still exactly the ledger's good events,
once each, in per-account order, with no false chain break."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from tests.integration.ingest.conftest import wait_until
from tests.integration.ingest.exactness import SLURPER_LABEL, check_exactly_once
from tests.integration.ingest.pipeline import IngestPipeline, VerifiedReader, raw_pending, verified_count
from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.group import DirectoryUpdater
from tools.netsim.network import Network
from tools.netsim.workload import Workload

pytestmark = pytest.mark.integration

_KINDS = tuple(
    k for k in BrokenKind if k not in (BrokenKind.PREV_DATA_BREAK, BrokenKind.OVERSIZED, *SLURPER_LABEL)
)
"""Broken events the validator judges, except a real chain break: any `broken_chain` drop or
relay `#account` after the crash is then a false one."""


@pytest.mark.parametrize("victim", ["slurper", "validator"])
async def test_kill_9_mid_stream_then_restart(
    victim: str, net: Network, pipeline: IngestPipeline, jetstream: JetStreamContext
) -> None:
    net.create_all()
    created = len(net.ledger)

    async def caught_up() -> bool:
        return await verified_count(jetstream) >= created

    await wait_until(caught_up, within_seconds=20, what="creation sequences verified")
    workload = Workload(
        net.group,
        DirectoryUpdater(net.directory),
        rate=150,
        broken_ratio=0.03,
        seed=victim,
        broken_kinds=_KINDS,
    )
    emitting = asyncio.create_task(workload.run(5.0))

    async def mid_stream() -> bool:
        return await verified_count(jetstream) >= created + 150

    await wait_until(mid_stream, within_seconds=20, what="the stream to be under way")
    service = pipeline[victim]
    killed = service.pid
    service.kill9()
    await asyncio.sleep(0.3)  # events keep coming meanwhile (hosts' backlogs / RAW_FRAMES hold them)
    service.start()
    await service.wait_ready()
    if victim == "slurper":
        await pipeline.wait_connected([h.hostname for h in net.hosts])
    assert service.pid != killed
    await emitting
    assert not emitting.exception()

    ledger = net.ledger
    good = sum(1 for e in ledger if e.broken is None)

    reader = VerifiedReader(jetstream)

    async def drained() -> bool:
        return await raw_pending(jetstream) == 0 and await reader.upstream_count() >= good

    try:
        await wait_until(drained, within_seconds=30, what="RAW_FRAMES drained and every good event verified")
    except AssertionError as exc:
        problems = check_exactly_once(ledger, await reader.poll())
        raise AssertionError(
            f"{exc}: {await raw_pending(jetstream)} raw pending, {await pipeline.validator_drops()}, "
            f"{problems}\n{service.log_tail()}"
        ) from None
    await asyncio.sleep(0.3)  # a late duplicate would land now
    verified = await reader.poll()
    assert check_exactly_once(ledger, verified) == []
    assert not [v for v in verified if v.derived]
    drops = await pipeline.validator_drops()
    allowed = {EXPECTED_REASON[k] for k in _KINDS} | {"redelivered_stale"}
    assert set(drops) <= allowed, drops
