"""Event-loop pauses from garbage collection with the validator's account cache at production size.

    uv run --frozen python bench/bench_gc_pauses.py [--entries 200000] [--rate 5000] [--seconds 60]

Fills the validator's account-state cache (its default 200,000 entries) and then, on an asyncio
loop, replaces `--rate` entries per second for `--seconds` (as commits do: a new state per account,
the old one dropped), making some short-lived reference cycles as asyncio code does. Every
collection is timed (gc callbacks). Two caches: `packed` is the validator's `StateCache` (tuples of
plain values), `objects` an `ExpiringLru` of `AccountState` objects (as it was before). Two modes,
each in a fresh process: `startup` freezes what exists before the churn (what
`ServiceRuntime.serve` did first), `maintained` also runs `keep_long_lived_frozen` (freeze every
`--freeze-every` s, full collection every `--full-every` s; the service's defaults are 60 s and
600 s). Reports pauses per generation and the RSS growth (a bound on what frozen cycles hold).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import psutil
from relay_core.cid import Cid
from relay_core.syntax.did import Did
from relay_core.syntax.tid import tid_from_time
from relay_runtime.gc_tuning import frozen_startup_objects, keep_long_lived_frozen, timed_collections
from relay_validator.account_state import AccountState
from relay_validator.lru import ExpiringLru
from relay_validator.state_cache import StateCache

_T0_US = 1_700_000_000_000_000


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _state(i: int, version: int) -> AccountState:
    did = Did(f"did:plc:{i:024d}")
    cid = Cid.for_dag_cbor(b"%d/%d" % (i, version))
    return AccountState(
        did=did, host="pds.example.com", rev=tid_from_time(_T0_US + version), commit_cid=cid, data_cid=cid
    )


async def _churn(args: argparse.Namespace, maintained: bool) -> dict[str, Any]:
    cache: ExpiringLru[Did, AccountState] | StateCache = (
        ExpiringLru(args.entries, 3600.0) if args.cache == "objects" else StateCache(args.entries, 3600.0)
    )
    for i in range(args.entries):
        cache.put(Did(f"did:plc:{i:024d}"), _state(i, 0))
    pauses: dict[int, list[float]] = defaultdict(list)
    rng = random.Random(1)
    rss0 = psutil.Process().memory_info().rss
    with frozen_startup_objects(), timed_collections(lambda gen, seconds: pauses[gen].append(seconds)):
        maintenance = (
            asyncio.create_task(
                keep_long_lived_frozen(
                    freeze_every_seconds=args.freeze_every, full_every_seconds=args.full_every
                )
            )
            if maintained
            else None
        )
        tick = 0.01
        per_tick = max(1, int(args.rate * tick))
        version = 0
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for _ in range(per_tick):
                version += 1
                i = rng.randrange(args.entries)
                cache.put(Did(f"did:plc:{i:024d}"), _state(i, version))
                _Cycle()
            await asyncio.sleep(tick)
        if maintenance is not None:
            maintenance.cancel()
    rss1 = psutil.Process().memory_info().rss
    out: dict[str, Any] = {"replaced": version, "rss_growth_mib": round((rss1 - rss0) / 2**20, 1)}
    for generation, values in sorted(pauses.items()):
        values.sort()
        out[f"gen{generation}"] = {
            "count": len(values),
            "max_ms": round(values[-1] * 1e3, 1),
            "p99_ms": round(values[int(len(values) * 0.99)] * 1e3, 2),
            "total_ms": round(sum(values) * 1e3, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=5000, help="cache entries replaced per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--freeze-every", type=float, default=5.0)
    parser.add_argument("--full-every", type=float, default=30.0)
    parser.add_argument("--mode", choices=("startup", "maintained"))
    parser.add_argument("--cache", choices=("packed", "objects"))
    args = parser.parse_args()
    if args.mode is not None:
        print(json.dumps(asyncio.run(_churn(args, args.mode == "maintained"))))
        return
    print(
        f"{args.entries:,} cached account states, {args.rate:,} replaced/s for {args.seconds:g} s "
        f"(maintained: freeze every {args.freeze_every:g} s, full collection every {args.full_every:g} s)"
    )
    for cache in ("objects", "packed"):
        for mode in ("startup", "maintained"):
            argv = [sys.executable, __file__, "--mode", mode, "--cache", cache]
            for flag in ("entries", "rate", "seconds", "freeze_every", "full_every"):
                argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
            result = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
            print(f"{cache:>8} {mode:>10}: {result}")


if __name__ == "__main__":
    main()
