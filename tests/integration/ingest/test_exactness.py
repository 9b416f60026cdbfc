"""Issue #4, done when: the simulator's ledger and the relay's VERIFIED stream agree exactly.

netsim (4 hosts × 5 accounts: creation sequences, record commits, handle changes, key rotations,
deactivations, every broken kind at least once plus a random share) → slurper → RAW_FRAMES →
validator (⇄ resolver on the netsim PLC, ⇄ indexer on Postgres + RocksDB) → VERIFIED. All four
services are real processes.
"""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from tests.integration.ingest.conftest import wait_until
from tests.integration.ingest.exactness import check_exactly_once, expected_drops
from tests.integration.ingest.pipeline import IngestPipeline, VerifiedReader, raw_pending, verified_count
from tools.netsim.broken import BrokenKind
from tools.netsim.group import DirectoryUpdater
from tools.netsim.network import Network
from tools.netsim.workload import Workload

pytestmark = pytest.mark.integration

_RANDOM_KINDS = tuple(k for k in BrokenKind if k is not BrokenKind.OVERSIZED)
"""One 2 MB frame (scripted) is enough: each takes half of a host's 4 MiB backlog."""


async def _scripted(net: Network) -> None:
    """Every broken kind once (each followed by a good commit of the same account), a key
    rotation, a handle change and a deactivate/reactivate pair, each followed by a commit."""
    dids = net.dids
    for i, kind in enumerate(BrokenKind):
        did = dids[i % len(dids)]
        net.commit(did, broken=kind)
        net.commit(did)
    await net.rotate_key(dids[1])
    net.commit(dids[1])
    await net.change_handle(dids[2], "renamed.pds2.test")
    net.commit(dids[2])
    net.set_status(dids[3], active=False, status="deactivated")
    net.set_status(dids[3], active=True, status=None)
    net.commit(dids[3])


async def test_verified_stream_matches_the_ledger(
    net: Network, pipeline: IngestPipeline, jetstream: JetStreamContext
) -> None:
    net.create_all()
    created = len(net.ledger)

    async def caught_up() -> bool:
        return await verified_count(jetstream) >= created

    await wait_until(caught_up, within_seconds=20, what="creation sequences verified")
    await _scripted(net)
    workload = Workload(
        net.group,
        DirectoryUpdater(net.directory),
        rate=200,
        broken_ratio=0.08,
        seed="ingest-exact",
        broken_kinds=_RANDOM_KINDS,
    )
    result = await workload.run(1.5)

    ledger = net.ledger
    good = sum(1 for e in ledger if e.broken is None)
    assert result.events > 200 and len(ledger) > 350
    assert {e.broken for e in ledger} >= set(BrokenKind)
    # NATS carries frames up to 8 MB, so the over-2 MB commit reaches the validator (blocks_too_big).
    expected = expected_drops(ledger, oversized_at_slurper=False)

    reader = VerifiedReader(jetstream)

    async def drained() -> bool:
        drops = await pipeline.validator_drops()
        return (
            await reader.upstream_count() >= good
            and sum(drops.values()) >= sum(expected.validator.values())
            and await raw_pending(jetstream) == 0
        )

    await wait_until(drained, within_seconds=30, what="every ledger entry judged")
    await asyncio.sleep(0.3)  # a late duplicate would land now
    verified = await reader.poll()
    assert check_exactly_once(ledger, verified) == []
    assert await pipeline.validator_drops() == dict(expected.validator)
    assert pipeline.slurper_drops() == dict(expected.slurper)
    # The relay's own #account events only for accounts whose chain a broken prevData interrupted.
    broke = {e.did for e in ledger if e.broken is BrokenKind.PREV_DATA_BREAK}
    assert {v.event.did for v in verified if v.derived} <= broke
