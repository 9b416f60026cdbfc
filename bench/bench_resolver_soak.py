"""Soak benchmark: does the resolver's memory stay flat once its cache is full?

The production relay this project replaces leaked ~240 MiB/h in DID resolution. This starts the
real loopback PLC directory (`tools.netsim.plc_directory`) and the real resolver service
(`python -m relay_resolver`) as separate processes, drives `ResolveDids` batches over gRPC with a
DID population several times larger than the cache (plus a share of unregistered DIDs, so error
entries churn too), samples the resolver's RSS every few seconds, and fits a least-squares slope
to the samples after warm-up. Short TTLs (defaults: 120 s identities, 30 s errors) make expiry
churn happen inside a 3-minute run, besides capacity eviction.

Run: `uv run --frozen python bench/bench_resolver_soak.py [--duration 180] [--accounts 50000]
[--cache-entries 10000]`. Prints a markdown table (see docs/benchmarks.md, "Resolver").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from relay_proto.resolver.v1 import resolver_pb2, resolver_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_bytes: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slope_mib_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time."""
    n = len(samples)
    if n < 2:
        return float("nan")
    mean_t = sum(s.seconds for s in samples) / n
    mean_r = sum(s.rss_bytes for s in samples) / n
    cov = sum((s.seconds - mean_t) * (s.rss_bytes - mean_r) for s in samples)
    var = sum((s.seconds - mean_t) ** 2 for s in samples)
    return cov / var / MIB * 3600


def start_plc(accounts: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.netsim.plc_directory",
            "--port",
            "0",
            "--accounts",
            str(accounts),
            "--seed",
            "soak",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("PLC directory exited before it was ready")
    return proc, str(json.loads(line)["url"])


def start_resolver(args: argparse.Namespace, plc_url: str) -> tuple[subprocess.Popen[bytes], int, int]:
    grpc_port, ops_port = free_port(), free_port()
    env = {
        **os.environ,
        "RELAY_RESOLVER_GRPC_PORT": str(grpc_port),
        "RELAY_RESOLVER_OPS_PORT": str(ops_port),
        "RELAY_RESOLVER_PLC_URL": plc_url,
        "RELAY_DEV_MODE": "true",
        "RELAY_RESOLVER_CACHE_MAX_ENTRIES": str(args.cache_entries),
        "RELAY_RESOLVER_CACHE_TTL_SECONDS": str(args.ttl),
        "RELAY_RESOLVER_ERROR_TTL_SECONDS": str(args.error_ttl),
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "relay_resolver"], cwd=ROOT, env=env)
    return proc, grpc_port, ops_port


async def wait_serving(channel: grpc.aio.Channel, within_seconds: float = 60.0) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("resolver did not become SERVING")


async def population(plc_url: str, accounts: int, missing_fraction: float) -> list[str]:
    dids: list[str] = []
    async with httpx.AsyncClient(base_url=plc_url) as client:
        while len(dids) < accounts:
            reply = await client.get("/_sim/dids", params={"offset": len(dids), "limit": 10_000})
            dids.extend(reply.json()["dids"])
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    missing = int(accounts * missing_fraction)
    dids.extend("did:plc:" + "".join(rng.choice(alphabet) for _ in range(24)) for _ in range(missing))
    return dids


async def drive(
    stub: resolver_pb2_grpc.ResolverServiceStub,
    dids: list[str],
    batch: int,
    until: float,
    seed: int,
    counts: Counter[str],
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        request = resolver_pb2.ResolveDidsRequest(dids=rng.sample(dids, batch))
        response = await stub.ResolveDids(request, timeout=30.0)
        for resolution in response.resolutions:
            if resolution.HasField("identity"):
                counts["ok"] += 1
            else:
                counts[resolver_pb2.ResolveErrorCode.Name(resolution.error.code)] += 1
        counts["batches"] += 1


async def sample_rss(pid: int, interval: float, until: float, started: float, out: list[Sample]) -> None:
    process = psutil.Process(pid)
    while time.monotonic() < until:
        out.append(Sample(time.monotonic() - started, process.memory_info().rss))
        await asyncio.sleep(interval)


def metric_totals(text: str, name: str) -> dict[str, float]:
    """Sum of a counter's samples by its first label value, from the Prometheus text format."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            first = labels[labels.index('"') + 1 :].split('"', 1)[0]
            totals[first] = totals.get(first, 0.0) + float(value)
    return totals


async def soak(args: argparse.Namespace) -> str:
    plc_proc, plc_url = start_plc(args.accounts)
    resolver_proc, grpc_port, ops_port = start_resolver(args, plc_url)
    try:
        dids = await population(plc_url, args.accounts, args.missing_fraction)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            await wait_serving(channel)
            stub = resolver_pb2_grpc.ResolverServiceStub(channel)
            cpu_before = {
                name: _cpu_seconds(p.pid) for name, p in (("resolver", resolver_proc), ("plc", plc_proc))
            }
            started = time.monotonic()
            until = started + args.duration
            counts: Counter[str] = Counter()
            samples: list[Sample] = []
            await asyncio.gather(
                sample_rss(resolver_proc.pid, args.sample_interval, until, started, samples),
                *(drive(stub, dids, args.batch, until, seed, counts) for seed in range(args.concurrency)),
            )
            elapsed = time.monotonic() - started
            cpu_share = {
                name: (_cpu_seconds(p.pid) - cpu_before[name]) / elapsed
                for name, p in (("resolver", resolver_proc), ("plc", plc_proc))
            }
        async with httpx.AsyncClient() as client:
            metrics_text = (await client.get(f"http://127.0.0.1:{ops_port}/metrics")).text
    finally:
        for proc in (resolver_proc, plc_proc):
            proc.terminate()
        for proc in (resolver_proc, plc_proc):
            proc.wait(timeout=30)

    warm = [s for s in samples if s.seconds >= args.warmup]
    lookups = metric_totals(metrics_text, "relay_resolver_cache_lookups_total")
    evictions = metric_totals(metrics_text, "relay_resolver_cache_evictions_total")
    resolutions = sum(v for k, v in counts.items() if k != "batches")
    hit_rate = lookups.get("hit", 0.0) / max(sum(lookups.values()), 1.0)
    rows = [
        ("duration (s)", f"{elapsed:.0f} (warm-up {args.warmup:.0f})"),
        ("DID population / cache entries", f"{len(dids):,} / {args.cache_entries:,}"),
        ("batch size x concurrent callers", f"{args.batch} x {args.concurrency}"),
        ("resolutions/s", f"{resolutions / elapsed:,.0f}"),
        ("cache hit rate", f"{hit_rate:.1%}"),
        (
            "evictions (capacity / expired)",
            f"{evictions.get('capacity', 0):,.0f} / {evictions.get('expired', 0):,.0f}",
        ),
        ("outcomes", ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items()) if k != "batches")),
        ("CPU (cores): resolver / PLC directory", f"{cpu_share['resolver']:.2f} / {cpu_share['plc']:.2f}"),
        ("RSS at warm-up end / final / max (MiB)", _rss_summary(warm or samples)),
        ("RSS slope after warm-up (MiB/h)", f"{slope_mib_per_hour(warm):+.2f} ({len(warm)} samples)"),
    ]
    table = ["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(table)


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _rss_summary(samples: list[Sample]) -> str:
    if not samples:
        return "n/a"
    first, last = samples[0].rss_bytes / MIB, samples[-1].rss_bytes / MIB
    peak = max(s.rss_bytes for s in samples) / MIB
    return f"{first:.1f} / {last:.1f} / {peak:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds excluded from the fit (default 1/3)"
    )
    parser.add_argument("--accounts", type=int, default=50_000, help="registered DIDs in the PLC directory")
    parser.add_argument("--missing-fraction", type=float, default=0.05, help="extra unregistered DIDs")
    parser.add_argument("--cache-entries", type=int, default=10_000, help="resolver cache cap")
    parser.add_argument("--ttl", type=float, default=120.0, help="identity TTL (s)")
    parser.add_argument("--error-ttl", type=float, default=30.0, help="error TTL (s)")
    parser.add_argument("--batch", type=int, default=100, help="DIDs per ResolveDids call")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent callers")
    parser.add_argument("--sample-interval", type=float, default=3.0, help="RSS sampling period (s)")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = args.duration / 3
    print(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
