"""Validator hot path: decode_event + judge per 1-op #commit, state and identity pre-warmed.

Builds N accounts' chains with the network simulator (real MSTs, real k256 signatures, sync v1.1
proofs), then times the pure decision (what one partition does per frame besides I/O).

Run: `uv run --frozen python -m bench.bench_validator [--accounts 50] [--commits 40]`
"""

from __future__ import annotations

import argparse
import random
import time

from relay_core.firehose.frames import encode_frame
from relay_core.syntax.did import Did
from relay_validator.account_state import AccountState
from relay_validator.decode import decode_event
from relay_validator.identity import AccountIdentity
from relay_validator.judge import Context, judge
from relay_validator.verdict import Accept, Drop

from tools.netsim.plc_directory import derive_account
from tools.netsim.repo import RevClock, Signer, SimRepo

HOST = "pds.bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--commits", type=int, default=40)
    args = parser.parse_args()
    rng, clock = random.Random(1), RevClock()
    frames: list[tuple[Did, bytes]] = []
    identities: dict[Did, AccountIdentity] = {}
    states: dict[Did, AccountState] = {}
    seq = 0
    for index in range(args.accounts):
        account = derive_account("bench", index, (f"https://{HOST}",))
        did = Did(account.did)
        repo = SimRepo(
            index=index,
            did=did,
            handle=account.handle,
            signer=Signer(account.signing_key.to_bytes()),
            signing_key=account.signing_key.public_key.did_key(),
        )
        repo.genesis(clock)
        assert repo.rev is not None and repo.head is not None
        states[did] = AccountState(
            did=did, host=HOST, rev=repo.rev, commit_cid=repo.head, data_cid=repo.tree.root
        )
        identities[did] = AccountIdentity(
            did=did,
            signing_key=account.signing_key.public_key,
            pds_host=HOST,
            handle=account.handle,
            handle_verified=True,
            resolved_at_us=0,
        )
        for _ in range(args.commits):
            seq += 1
            event = repo.mutate(rng, clock)
            frames.append((did, encode_frame(event.type, {**event.body, "seq": seq})))
    # Interleave accounts the way a busy host does (per-account order kept).
    by_did: dict[Did, list[bytes]] = {}
    for did, frame in frames:
        by_did.setdefault(did, []).append(frame)
    ordered = [(did, by_did[did][i]) for i in range(args.commits) for did in by_did]

    now_us = time.time_ns() // 1000
    cpu0, wall0 = time.process_time(), time.perf_counter()
    decode_s = 0.0
    for did, frame in ordered:
        t0 = time.perf_counter()
        decoded = decode_event(frame)
        decode_s += time.perf_counter() - t0
        assert not isinstance(decoded, Drop), decoded
        verdict = judge(
            decoded,
            Context(
                host=HOST,
                frame=frame,
                state=states[did],
                identity=identities[did],
                identity_fresh=True,
                host_has_room=True,
                now_us=now_us,
            ),
        )
        assert isinstance(verdict, Accept), verdict
        states[did] = verdict.state
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(ordered)
    print(f"commits judged: {n}")
    print(f"decode_event: {decode_s / n * 1e6:.1f} µs/commit")
    print(f"decode + judge: {wall / n * 1e6:.1f} µs/commit wall, {cpu / n * 1e6:.1f} µs CPU")
    print(f"one core: {n / cpu:,.0f} commits/s (pure judge, no I/O)")


if __name__ == "__main__":
    main()
