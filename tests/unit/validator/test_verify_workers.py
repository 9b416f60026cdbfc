"""Verification in worker processes gives exactly the verdicts of inline verification, and a
worker killed while it holds a batch is replaced and the batch verified again.

Real worker processes (`VerifyPool`), real events from the network simulator, good and broken.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from relay_core.firehose.events import CommitEvent, SyncEvent
from relay_core.firehose.frames import encode_frame
from relay_core.keys import PublicKey
from relay_core.syntax.did import Did
from relay_validator import metrics
from relay_validator.account_state import AccountState
from relay_validator.decode import decode_event
from relay_validator.identity import AccountIdentity
from relay_validator.judge import Context, judge
from relay_validator.precomputed import Precomputed, from_outcome
from relay_validator.verdict import Accept, Drop, Verdict
from relay_validator.verify_pool import VerifyPool
from relay_validator.verify_worker import ERROR, OK, Job, verify_jobs

from tests.unit.validator.sim import HOST, new_repo
from tools.netsim.broken import BrokenKind
from tools.netsim.repo import RevClock, Signer

_COMMIT_DEFECTS = (
    BrokenKind.FORGED_SIGNATURE,
    BrokenKind.HIGH_S,
    BrokenKind.WRONG_KEY,
    BrokenKind.REV_ROLLBACK,
    BrokenKind.FUTURE_REV,
    BrokenKind.PREV_DATA_BREAK,
    BrokenKind.BAD_CID,
    BrokenKind.TOO_MANY_OPS,
)


def _stream(accounts: int, rounds: int) -> tuple[list[tuple[Did, bytes]], dict[Did, AccountIdentity]]:
    """Genesis of each account, then rounds of commits (every third one broken, in turn by each
    defect) and now and then a #sync, accounts interleaved as on a busy host."""
    rng, clock = random.Random(3), RevClock()
    frames: list[tuple[Did, bytes]] = []
    identities: dict[Did, AccountIdentity] = {}
    seq = 0
    repos = []
    for index in range(accounts):
        repo, identity = new_repo(index, seed="workers")
        repos.append(repo)
        identities[repo.did] = identity
        for event in repo.genesis(clock):
            seq += 1
            frames.append((repo.did, encode_frame(event.type, {**event.body, "seq": seq})))
    defects = iter(_COMMIT_DEFECTS * rounds * accounts)
    for r in range(rounds):
        for i, repo in enumerate(repos):
            broken = next(defects) if (r + i) % 3 == 2 else None
            event = repo.mutate(rng, clock, broken=broken, wrong_signer=Signer(b"\x44" * 32))
            if r % 4 == 3 and i == 0:
                event = repo.sync()
            seq += 1
            frames.append((repo.did, encode_frame(event.type, {**event.body, "seq": seq})))
    return frames, identities


def _judge_all(
    frames: list[tuple[Did, bytes]],
    identities: dict[Did, AccountIdentity],
    now_us: int,
    precomputed: list[Precomputed | None] | None = None,
) -> tuple[list[Verdict], list[AccountState | None]]:
    """Judge `frames` in order as one partition would; also the state each was judged against."""
    states: dict[Did, AccountState] = {}
    verdicts: list[Verdict] = []
    before: list[AccountState | None] = []
    for index, (did, frame) in enumerate(frames):
        before.append(states.get(did))
        event = decode_event(frame)
        if isinstance(event, Drop):
            verdicts.append(event)
            continue
        if precomputed is not None and precomputed[index] is not None:
            # Without its blocks the event cannot be verified inline: the verdict must come from
            # the worker's outcome.
            event = replace(event, blocks=b"") if isinstance(event, CommitEvent | SyncEvent) else event
        verdict = judge(
            event,
            Context(
                host=HOST,
                frame=frame,
                state=states.get(did),
                identity=identities[did],
                identity_fresh=True,
                host_has_room=True,
                now_us=now_us,
                precomputed=None if precomputed is None else precomputed[index],
            ),
        )
        if isinstance(verdict, Accept | Drop) and verdict.state is not None:
            states[did] = verdict.state
        verdicts.append(verdict)
    return verdicts, before


def _jobs(
    frames: list[tuple[Did, bytes]], identities: dict[Did, AccountIdentity], before: list[AccountState | None]
) -> tuple[list[Job], list[tuple[int, PublicKey, bool]]]:
    jobs: list[Job] = []
    slots: list[tuple[int, PublicKey, bool]] = []
    for index, (did, frame) in enumerate(frames):
        event = decode_event(frame)
        if not isinstance(event, CommitEvent | SyncEvent):
            continue
        key = identities[did].signing_key
        state = before[index]
        strict = True
        if isinstance(event, CommitEvent):
            strict = (state is not None and state.data_cid is not None) or event.prev_data is not None
        jobs.append((event, key.curve.value, key.compressed, strict))
        slots.append((index, key, strict))
    return jobs, slots


@pytest.fixture
def pool() -> Iterator[VerifyPool]:
    verify_pool = VerifyPool(2, min_chunk=8)
    verify_pool.start()
    try:
        yield verify_pool
    finally:
        verify_pool.close()


async def test_verdicts_with_worker_outcomes_are_the_inline_verdicts(pool: VerifyPool) -> None:
    frames, identities = _stream(accounts=4, rounds=12)
    now_us = time.time_ns() // 1000
    inline, before = _judge_all(frames, identities, now_us)
    jobs, slots = _jobs(frames, identities, before)
    outcomes = await pool.run(jobs, now_us)
    assert outcomes is not None and pool.jobs_done == len(jobs)
    precomputed: list[Precomputed | None] = [None] * len(frames)
    for (index, key, strict), outcome in zip(slots, outcomes, strict=True):
        precomputed[index] = from_outcome(decode_event(frames[index][1]), key, strict, now_us, outcome)
    # Every defect that verification catches came back as an error, the rest as verified heads.
    assert {o[0] for o in outcomes} == {OK, ERROR}
    offloaded, _ = _judge_all(frames, identities, now_us, precomputed)
    assert offloaded == inline
    kinds = {v.reason.value for v in inline if isinstance(v, Drop)}
    assert {"signature_mismatch", "high_s", "future_rev", "broken_chain", "cid_mismatch"} <= kinds


async def test_outcomes_apply_only_to_the_inputs_they_were_computed_with(pool: VerifyPool) -> None:
    frames, identities = _stream(accounts=1, rounds=1)
    now_us = time.time_ns() // 1000
    _, before = _judge_all(frames, identities, now_us)
    jobs, slots = _jobs(frames, identities, before)
    outcomes = await pool.run(jobs, now_us)
    assert outcomes is not None
    index, key, strict = slots[-1]
    pre = from_outcome(decode_event(frames[index][1]), key, strict, now_us, outcomes[-1])
    assert pre is not None and pre.applies(key, strict, (), now_us)
    other_key = new_repo(9, seed="other")[1].signing_key
    assert not pre.applies(other_key, strict, (), now_us)
    assert not pre.applies(key, not strict, (), now_us)
    assert not pre.applies(key, strict, (other_key,), now_us)
    assert not pre.applies(key, strict, (), now_us + 1)


async def test_a_worker_killed_before_or_during_a_batch_is_replaced_and_the_batch_verified_again(
    pool: VerifyPool,
) -> None:
    frames, identities = _stream(accounts=4, rounds=30)
    now_us = time.time_ns() // 1000
    _, before = _judge_all(frames, identities, now_us)
    jobs, _ = _jobs(frames, identities, before)
    expected = verify_jobs(jobs, now_us)
    restarts = metrics.VERIFY_WORKER_RESTARTS_TOTAL._value.get()

    # Killed while idle: the next batch finds its pipe broken.
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    await asyncio.sleep(0.1)
    assert await pool.run(jobs, now_us) == expected
    assert victim not in pool.pids() and len(pool.pids()) == 2

    # Killed while it works on its chunk of a batch.
    big = jobs * 30
    running = asyncio.create_task(pool.run(big, now_us))
    await asyncio.sleep(0.05)
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert await running == expected * 30
    assert victim not in pool.pids() and len(pool.pids()) == 2
    assert metrics.VERIFY_WORKER_RESTARTS_TOTAL._value.get() == restarts + 2


async def test_a_cancelled_batch_leaves_no_stale_answer_behind(pool: VerifyPool) -> None:
    frames, identities = _stream(accounts=2, rounds=20)
    now_us = time.time_ns() // 1000
    _, before = _judge_all(frames, identities, now_us)
    jobs, _ = _jobs(frames, identities, before)
    running = asyncio.create_task(pool.run(jobs * 40, now_us))
    await asyncio.sleep(0.02)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # The workers that held it were replaced: the next batch gets its own answers.
    assert await pool.run(jobs[:5], now_us) == verify_jobs(jobs[:5], now_us)
    assert len(pool.pids()) == 2


async def test_a_signal_to_the_process_group_leaves_the_workers_to_the_main_process(pool: VerifyPool) -> None:
    frames, identities = _stream(accounts=1, rounds=3)
    now_us = time.time_ns() // 1000
    _, before = _judge_all(frames, identities, now_us)
    jobs, _ = _jobs(frames, identities, before)
    pids = pool.pids()
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)
    await asyncio.sleep(0.1)
    assert await pool.run(jobs, now_us) == verify_jobs(jobs, now_us)
    assert pool.pids() == pids


async def test_when_no_worker_can_be_started_again_batches_are_verified_inline(
    pool: VerifyPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames, identities = _stream(accounts=1, rounds=3)
    now_us = time.time_ns() // 1000
    _, before = _judge_all(frames, identities, now_us)
    jobs, _ = _jobs(frames, identities, before)

    def cannot_start() -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(pool, "_spawn", cannot_start)  # fault injection: the next start fails
    for pid in pool.pids():
        os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.1)
    assert await pool.run(jobs, now_us) is None
    assert await pool.run(jobs, now_us) is None  # and stays so, without waiting on a worker
