"""Sustained end-to-end ingest: netsim → slurper → RAW_FRAMES → validator (one replica) → VERIFIED.

    uv run --frozen python -m bench.bench_ingest --hosts 50 --rates 250,500,1000,2000 --step-seconds 30

Starts its own NATS and Postgres (the devstack launchers), the network simulator in this process
and the four ingest services as real processes (slurper, validator, resolver on the netsim PLC,
indexer), exactly as tests/integration/ingest does. For each target rate it emits good events for
`--step-seconds`, then waits (bounded) until VERIFIED holds every one, and reports:

- verified events/s: events of the step / (emission time + time to drain what was left);
- CPU µs per verified event of each service process (psutil user+system over the step);
- latency p50/p99 from the event's `time` (set by netsim when it makes the event) to the
  validator's `verified_at_us` (both wall clock on this machine; `time` has ms resolution).

Prints a markdown table (docs/benchmarks.md, "Ingest").
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nats
import psutil
from nats.aio.msg import Msg
from relay_devstack.nats import NatsServer
from relay_devstack.postgres import PostgresCluster
from relay_proto.events.v1 import events_pb2
from relay_runtime.streams import VERIFIED

from tests.integration.ingest.pipeline import IngestPipeline, raw_pending, reset_streams, start_pipeline
from tools.netsim.group import DirectoryUpdater
from tools.netsim.network import Network
from tools.netsim.workload import Workload

SERVICES = ("slurper", "validator", "resolver", "indexer")


@dataclass
class Step:
    rate: int
    events: int
    seconds: float
    verified_per_second: float
    cpu_us: dict[str, float]
    p50_ms: float
    p99_ms: float


class Latencies:
    """Ordered push consumer on VERIFIED: emit → verified latency of each upstream event."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.count = 0

    async def on_message(self, msg: Msg) -> None:
        event = events_pb2.VerifiedEvent()
        event.ParseFromString(msg.data)
        self.count += 1
        if event.event_time:
            emitted = datetime.fromisoformat(event.event_time.replace("Z", "+00:00")).timestamp()
            self.samples.append(event.verified_at_us / 1e6 - emitted)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def _cpu(pipeline: IngestPipeline) -> dict[str, float]:
    out = {}
    for name in SERVICES:
        times = psutil.Process(pipeline[name].pid).cpu_times()
        out[name] = times.user + times.system
    return out


async def _step(
    net: Network, pipeline: IngestPipeline, latencies: Latencies, js: object, rate: int, seconds: float
) -> Step:
    workload = Workload(
        net.group, DirectoryUpdater(net.directory), rate=rate, broken_ratio=0.0, seed=f"bench-{rate}",
        key_rotations=False,
    )  # fmt: skip
    before_count, before_cpu = latencies.count, _cpu(pipeline)
    latencies.samples.clear()
    started = time.monotonic()
    result = await workload.run(seconds)
    deadline = time.monotonic() + max(30.0, seconds)
    while latencies.count - before_count < result.events and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    verified = latencies.count - before_count
    after_cpu = _cpu(pipeline)
    del js
    return Step(
        rate=rate,
        events=result.events,
        seconds=elapsed,
        verified_per_second=verified / elapsed,
        cpu_us={n: (after_cpu[n] - before_cpu[n]) * 1e6 / max(verified, 1) for n in SERVICES},
        p50_ms=_percentile(latencies.samples, 0.50),
        p99_ms=_percentile(latencies.samples, 0.99),
    )


async def run(args: argparse.Namespace) -> list[Step]:
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    nats_server = NatsServer(root / "nats", client_port=0, monitor_port=0, log_path=root / "nats.log")
    cluster = PostgresCluster(root / "pg", database="postgres", tuned_for_tests=True)
    steps: list[Step] = []
    try:
        url = nats_server.start().client_url
        cluster.start()
        cluster.create_database("bench")
        nc = await nats.connect(url)
        js = nc.jetstream()
        await reset_streams(js)
        rate_env = {
            "RELAY_SLURPER_RATE_PER_SECOND": "100000",
            "RELAY_SLURPER_RATE_PER_HOUR": "100000000",
            "RELAY_SLURPER_RATE_PER_DAY": "1000000000",
        }
        async with (
            Network.start(hosts=args.hosts, accounts_per_host=args.accounts_per_host, seed="bench") as net,
            start_pipeline(
                nats_url=url,
                database_url=cluster.dsn("bench"),
                plc_url=net.plc_url,
                state_dir=root / "relay",
                extra_env={"slurper": rate_env},
            ) as pipeline,
        ):
            await pipeline.add_hosts([h.hostname for h in net.hosts], timeout_seconds=60)
            latencies = Latencies()
            await js.subscribe(f"{VERIFIED.subjects[0]}", cb=latencies.on_message, ordered_consumer=True)
            created = len(net.create_all())
            while latencies.count < created:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            for rate in args.rates:
                step = await _step(net, pipeline, latencies, js, rate, args.step_seconds)
                steps.append(step)
                print(_row(step), flush=True)
                if await raw_pending(js) > 0 and step.verified_per_second < 0.8 * rate:
                    break  # saturated: higher targets only queue more
        await nc.close()
    finally:
        cluster.stop()
        nats_server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return steps


def _row(s: Step) -> str:
    cpu = " | ".join(f"{s.cpu_us[n]:,.0f}" for n in SERVICES)
    return (
        f"| {s.rate:,} | {s.events:,} | {s.verified_per_second:,.0f} | {cpu} | "
        f"{sum(s.cpu_us.values()):,.0f} | {s.p50_ms:,.0f} | {s.p99_ms:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--accounts-per-host", type=int, default=2)
    parser.add_argument(
        "--rates", type=lambda v: [int(x) for x in v.split(",")], default=[250, 500, 1000, 2000]
    )
    parser.add_argument("--step-seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(
        "| target events/s | events | verified events/s | slurper µs/ev | validator µs/ev | "
        "resolver µs/ev | indexer µs/ev | total µs/ev | p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
