"""Raw frames in → exactly the good events out, once, in order; broken ones dropped by reason.

Everything is real: JetStream, the indexer servicer on Postgres, the resolver servicer over the
netsim PLC directory, signed MST-backed events from the network simulator.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter

import pytest
from relay_proto.events.v1 import events_pb2
from relay_runtime.streams import VERIFIED
from relay_validator.drop_reason import DropReason
from relay_validator.service import ValidatorPipeline

from tests.integration.validator.conftest import Harness, wait_for
from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.repo import PreparedEvent, Signer

pytestmark = pytest.mark.integration

_BROKEN_ROUND = (
    BrokenKind.FORGED_SIGNATURE,
    BrokenKind.REV_ROLLBACK,
    BrokenKind.BAD_CID,
    BrokenKind.TOO_MANY_OPS,
    BrokenKind.HIGH_S,
    BrokenKind.WRONG_KEY,
)


async def _verified(h: Harness) -> list[tuple[str, str, str, int]]:
    info = await h.js.stream_info(VERIFIED.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await h.js.get_msg(VERIFIED.name, seq)
        event = events_pb2.VerifiedEvent()
        event.ParseFromString(msg.data or b"")
        out.append((event.did, event.kind, event.rev, event.upstream_seq))
    return out


async def _count(h: Harness) -> int:
    return int((await h.js.stream_info(VERIFIED.name)).state.messages)


async def _send_workload(
    h: Harness, rounds: range, expected: list[tuple[str, str, str, int]], drops: Counter[str]
) -> None:
    rng = random.Random(rounds.start)
    up = h.upstream
    for r in rounds:
        for i, repo in enumerate(up.repos):
            if r == 0:
                for created in repo.genesis(up.clock):
                    seq = await up.send(created)
                    expected.append((repo.did, created.type[1:], created.rev or "", seq))
                continue
            kind = _BROKEN_ROUND[i] if r % 3 == 2 else None
            event: PreparedEvent = repo.mutate(rng, up.clock, broken=kind, wrong_signer=Signer(b"\x33" * 32))
            seq = await up.send(event)
            if kind is None:
                expected.append((repo.did, "commit", event.rev or "", seq))
            else:
                drops[EXPECTED_REASON[kind]] += 1
        if r == 1:
            # A truncated frame and a legacy #handle frame from the same host.
            good = up.repos[0].mutate(rng, up.clock)
            await up.send(good, mangle=lambda f: f[: len(f) // 2])
            drops[DropReason.BAD_FRAME_CBOR] += 1
            # The simulator already advanced repo 0 for `good`: resync consumers with a #sync so
            # the chain stays valid for the next commits.
            seq = await up.send(up.repos[0].sync())
            expected.append((up.repos[0].did, "sync", str(up.repos[0].rev), seq))
            legacy = PreparedEvent(
                "#handle",
                up.repos[1].did,
                {"did": up.repos[1].did, "handle": "x.test", "time": "2024-01-01T00:00:00Z"},
            )
            await up.send(legacy)
            drops[DropReason.LEGACY_EVENT] += 1


async def _run(pipeline: ValidatorPipeline) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(pipeline.run(stop))


async def test_good_events_out_exactly_once_in_order_and_broken_ones_dropped(harness: Harness) -> None:
    expected: list[tuple[str, str, str, int]] = []
    drops: Counter[str] = Counter()
    pipeline = harness.pipeline()
    stop, task = await _run(pipeline)
    await _send_workload(harness, range(6), expected, drops)
    await wait_for(
        lambda: (
            pipeline.stats().events_verified >= len(expected)
            and sum(pipeline.stats().drops.values()) >= sum(drops.values())
        )
    )
    await asyncio.sleep(0.3)  # nothing more may arrive
    stop.set()
    await task
    assert await _verified(harness) == expected
    assert Counter(pipeline.stats().drops) == drops
    # Durable state: each repo's head is what the simulator holds.
    stored = await harness.repos.get_accounts([r.did for r in harness.upstream.repos])
    for repo in harness.upstream.repos:
        head = stored[repo.did].head
        assert head is not None and head.rev == str(repo.rev) and head.data_cid == str(repo.tree.root)


async def test_restart_mid_stream_loses_nothing_and_duplicates_nothing(harness: Harness) -> None:
    expected: list[tuple[str, str, str, int]] = []
    drops: Counter[str] = Counter()
    first = harness.pipeline(batch_size=8)
    _, task = await _run(first)
    await _send_workload(harness, range(4), expected, drops)
    await wait_for(lambda: first.stats().events_verified >= 10)
    task.cancel()  # a crash: whatever batch was in hand is neither fully published nor acked
    with pytest.raises(asyncio.CancelledError):
        await task
    await _send_workload(harness, range(4, 8), expected, drops)
    second = harness.pipeline(batch_size=8)
    stop, task = await _run(second)
    await _stop_when_verified(harness, len(expected), stop, task)
    assert await _verified(harness) == expected
    merged = Counter(first.stats().drops) + Counter(second.stats().drops)
    # Frames re-judged after the crash may show up as redelivered replays, never as chain breaks.
    assert merged[DropReason.BROKEN_CHAIN] == 0
    merged.pop(DropReason.REDELIVERED_STALE, None)
    for reason, count in drops.items():
        assert merged[reason] >= count


async def _stop_when_verified(
    harness: Harness, count: int, stop: asyncio.Event, task: asyncio.Task[None]
) -> None:
    """Wait until VERIFIED holds `count` events, give anything more time to show, then stop."""
    await wait_for_count(harness, count)
    await asyncio.sleep(0.3)  # nothing more may arrive
    stop.set()
    await task


async def wait_for_count(harness: Harness, count: int, limit_seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_seconds
    while await _count(harness) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"VERIFIED has {await _count(harness)} of {count}")
        await asyncio.sleep(0.05)


async def test_verified_events_carry_their_raw_frames_trace_context(harness: Harness) -> None:
    up = harness.upstream
    repo = up.repos[0]
    parents = []
    for index, event in enumerate(repo.genesis(up.clock)):
        parents.append(f"00-{index + 1:032x}-{index + 7:016x}-01")
        await up.send(event, traceparent=parents[-1])
    await up.send(repo.mutate(random.Random(1), up.clock))  # a frame without trace context
    pipeline = harness.pipeline()
    stop, task = await _run(pipeline)
    await wait_for_count(harness, len(parents) + 1)
    stop.set()
    await task
    info = await harness.js.stream_info(VERIFIED.name)
    headers = [
        (await harness.js.get_msg(VERIFIED.name, seq)).headers or {}
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    assert [h.get("traceparent") for h in headers] == [*parents, None]


async def test_a_verify_worker_killed_mid_stream_changes_nothing(harness: Harness) -> None:
    if harness.verifier is None:
        pytest.skip("needs verify workers")
    verifier = harness.verifier
    expected: list[tuple[str, str, str, int]] = []
    drops: Counter[str] = Counter()
    pipeline = harness.pipeline(batch_size=8)
    stop, task = await _run(pipeline)
    await _send_workload(harness, range(3), expected, drops)
    await wait_for(lambda: pipeline.stats().events_verified >= 10)
    killed = verifier.pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    await _send_workload(harness, range(3, 6), expected, drops)
    await _stop_when_verified(harness, len(expected), stop, task)
    assert await _verified(harness) == expected
    assert Counter(pipeline.stats().drops) == drops
    assert not set(killed) & set(verifier.pids()) and len(verifier.pids()) == 2
    assert verifier.jobs_done > 0


async def test_batches_below_the_pools_minimum_are_verified_inline(harness: Harness) -> None:
    if harness.verifier is None:
        pytest.skip("needs verify workers")
    verifier = harness.verifier
    verifier.min_batch = 10_000  # no batch of this test is big enough for a round trip
    expected: list[tuple[str, str, str, int]] = []
    drops: Counter[str] = Counter()
    pipeline = harness.pipeline()
    stop, task = await _run(pipeline)
    await _send_workload(harness, range(3), expected, drops)
    await _stop_when_verified(harness, len(expected), stop, task)
    assert await _verified(harness) == expected
    assert Counter(pipeline.stats().drops) == drops
    assert verifier.jobs_done == 0
