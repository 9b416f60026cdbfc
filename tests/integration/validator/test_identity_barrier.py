"""A key rotation behind commits of the same account in one pulled batch: the commits signed
before it are judged with the key they were signed with, not the one the `#identity` brings.

Found by tests/integration/ingest (kill -9 of the validator: the batch pulled after the restart
held old-key commits followed by their rotation's `#identity`, whose up-front purge made every
one of them a signature mismatch and the account's next commits broken chains).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import REGISTRY
from relay_runtime.streams import VERIFIED

from tests.integration.validator.conftest import Harness, wait_for
from tools.netsim.plc_directory import signing_key_for
from tools.netsim.repo import Signer

pytestmark = pytest.mark.integration


async def test_commits_before_a_rotation_in_the_same_batch_keep_their_old_key(harness: Harness) -> None:
    up = harness.upstream
    repo = up.repos[0]
    for event in repo.genesis(up.clock):
        await up.send(event)
    first = harness.pipeline()
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await wait_for(lambda: first.stats().events_verified >= 4)
    stop.set()
    await task

    # While no validator runs: two commits under the old key, then the rotation (PLC first).
    rng = random.Random(7)
    old_key_seqs = [await up.send(repo.mutate(rng, up.clock)) for _ in range(2)]
    new_key = signing_key_for("validator-it/rotated", 0)
    harness.plc.update(repo.did, signing_key=new_key.public_key.did_key())
    repo.signer = Signer(new_key.to_bytes())
    repo.signing_key = new_key.public_key.did_key()
    rotation_seq = await up.send(repo.identity_change(repo.handle))
    new_key_seq = await up.send(repo.mutate(rng, up.clock))

    second = harness.pipeline(batch_size=16)  # all four frames arrive in one pull
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    await wait_for(lambda: second.stats().events_verified + sum(second.stats().drops.values()) >= 4)
    await asyncio.sleep(0.2)
    stop.set()
    await task

    assert second.stats().drops == {}
    info = await harness.js.stream_info(VERIFIED.name)
    assert info.state.messages == 4 + 4
    seqs = []
    for seq in range(info.state.last_seq - 3, info.state.last_seq + 1):
        msg = await harness.js.get_msg(VERIFIED.name, seq)
        seqs.append(int((msg.headers or {})["Nats-Msg-Id"].rsplit(":", 1)[1]))
    assert seqs == [*old_key_seqs, rotation_seq, new_key_seq]


async def test_a_validator_behind_two_rotations_verifies_each_commit_with_its_own_key(
    harness: Harness,
) -> None:
    """Cold caches, and the directory already serves the third key: the commits signed under the
    first two are verified from the DID's key history (PLC audit log), none is dropped."""
    up = harness.upstream
    repo = up.repos[1]
    rng = random.Random(11)
    expected = [await up.send(event) for event in repo.genesis(up.clock)]
    for generation in (1, 2):
        expected += [await up.send(repo.mutate(rng, up.clock)) for _ in range(3)]
        key = signing_key_for("validator-it/rotated-twice", generation)
        harness.plc.update(repo.did, signing_key=key.public_key.did_key())
        repo.signer = Signer(key.to_bytes())
        repo.signing_key = key.public_key.did_key()
        expected.append(await up.send(repo.identity_change(repo.handle)))
    expected += [await up.send(repo.mutate(rng, up.clock)) for _ in range(2)]

    lookups_before = _sample("relay_validator_key_history_lookups_total", {"result": "found"})
    earlier_before = _sample("relay_validator_earlier_key_verifications_total", {})
    pipeline = harness.pipeline(batch_size=2)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await wait_for(
        lambda: pipeline.stats().events_verified + sum(pipeline.stats().drops.values()) >= len(expected)
    )
    await asyncio.sleep(0.2)
    stop.set()
    await task

    assert pipeline.stats().drops == {}
    info = await harness.js.stream_info(VERIFIED.name)
    assert info.state.messages == len(expected)
    seqs = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await harness.js.get_msg(VERIFIED.name, seq)
        seqs.append(int((msg.headers or {})["Nats-Msg-Id"].rsplit(":", 1)[1]))
    assert seqs == expected
    # Genesis commit + sync and three commits under the first key, three under the second.
    assert _sample("relay_validator_earlier_key_verifications_total", {}) - earlier_before == 8
    assert _sample("relay_validator_key_history_lookups_total", {"result": "found"}) > lookups_before


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
