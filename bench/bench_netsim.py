"""Network simulator throughput and footprint: events/s reached, CPU per event, memory per host.

Runs `python -m tools.netsim` in-process (PLC directory here, hosts in worker processes) with a
target rate above what the machine can make, so the achieved rate is the ceiling, then prints a
markdown table. Defaults: 3,000 hosts, 2 accounts each, 2 processes, 15 s, 1% broken; the whole
run (account derivation, start-up, emission) stays under a minute.

With `--prepare` every frame is made and signed before emission starts (what
`bench_pipeline_latency.py` does), so the CPU per event is the emission alone (sequencing, frame
encoding, ledger, sends) and the preparation's CPU is reported apart.

Run: `uv run --frozen python bench/bench_netsim.py [--hosts 3000] [--rate 20000] [--duration 15]
[--prepare]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

# `just bench` runs scripts by path, which puts bench/ (not the repo root) on sys.path; the
# simulator lives in the root's `tools` package. Worker processes inherit this path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.netsim.cli import Options, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=3000)
    parser.add_argument("--accounts-per-host", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20_000.0, help="target; above the ceiling on purpose")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--broken-ratio", type=float, default=0.01)
    parser.add_argument("--prepare", action="store_true", help="make every frame before emitting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        opts = Options(
            hosts=args.hosts,
            accounts_per_host=args.accounts_per_host,
            rate=args.rate,
            broken_ratio=args.broken_ratio,
            duration_seconds=min(args.duration, 60.0),
            seed="bench",
            report=Path(tmp) / "report.json",
            ledger=None,
            processes=args.processes,
            plc_port=0,
            backlog_frames=1000,
            linger_seconds=0.0,
            prepare=args.prepare,
        )
        report = asyncio.run(run(opts))
    workers = report["workers"]
    rss_end = sum(w["rss_mib"]["end"] for w in workers)
    commits = report["sent"]["by_type"].get("#commit", 0)
    print(f"netsim: {args.hosts} hosts x {args.accounts_per_host} accounts, {args.processes} processes\n")
    print("| metric | value |\n|---|---|")
    rows = [
        ("events sent", report["events"]),
        ("of which #commit", commits),
        ("target events/s", report["rate_target"]),
        ("achieved events/s", report["rate_achieved"]),
        ("CPU µs per event (all workers)", report["cpu_us_per_event"]),
        ("CPU s making frames ahead (--prepare)", round(sum(w["prepare_cpu_seconds"] for w in workers), 2)),
        ("listener memory KiB per host", report["listener_kib_per_host"]),
        ("worker RSS at end, MiB (sum)", round(rss_end, 1)),
        ("PLC account derivation, s", report["account_derive_seconds"]),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\n" + json.dumps({"workers": workers}, indent=None))


if __name__ == "__main__":
    main()
