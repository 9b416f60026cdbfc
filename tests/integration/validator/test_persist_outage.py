"""The indexer goes away while the validator is publishing: account-state writes (done in the
background, grouped) fail, the batches judged on top of them are judged again from the durable
state once it is back, and nothing is lost, duplicated, reordered or falsely broken."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from prometheus_client import REGISTRY
from relay_core.syntax.did import Did
from relay_proto.events.v1 import events_pb2
from relay_runtime.streams import VERIFIED

from tests.integration.validator.conftest import Harness, wait_for

pytestmark = pytest.mark.integration


def _failures() -> float:
    return (
        REGISTRY.get_sample_value("relay_validator_dependency_failures_total", {"dependency": "indexer"})
        or 0.0
    )


async def test_indexer_outage_mid_stream_loses_and_duplicates_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relay_validator.persister")
    up = harness.upstream
    repo = up.repos[3]
    rng = random.Random(3)
    expected = [await up.send(event) for event in repo.genesis(up.clock)]
    pipeline = harness.pipeline(batch_size=3)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        await wait_for(lambda: pipeline.stats().events_verified >= len(expected))
        failures_before = _failures()

        await harness.indexer.stop()
        for _ in range(4):
            expected.append(await up.send(repo.mutate(rng, up.clock)))
        await wait_for(lambda: _failures() > failures_before)  # a write failed (or a read)
        for _ in range(4):
            expected.append(await up.send(repo.mutate(rng, up.clock)))
        await asyncio.sleep(0.5)
        await harness.indexer.restart()

        await wait_for(lambda: pipeline.stats().events_verified >= len(expected), limit_seconds=30)
        await asyncio.sleep(0.3)  # a late duplicate would land now
    finally:
        stop.set()
        await task

    assert any("persisting account states failed" in r.getMessage() for r in caplog.records)
    assert pipeline.stats().drops == {}
    info = await harness.js.stream_info(VERIFIED.name)
    seqs = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        event = events_pb2.VerifiedEvent.FromString(
            (await harness.js.get_msg(VERIFIED.name, seq)).data or b""
        )
        seqs.append(event.upstream_seq)
    assert seqs == expected
    stored = (await harness.repos.get_accounts([Did(repo.did)]))[Did(repo.did)]
    assert stored.head is not None and stored.head.rev == str(repo.rev)
    assert not stored.desynchronized
