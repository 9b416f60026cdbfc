"""CPU per frame of the slurper's hot path: WebSocket receive → peek → pace → acked JetStream publish.

Run: `uv run --frozen python bench/bench_slurper.py [--hosts 20] [--rate 1000] [--seconds 5]
[--rounds 5] [--profile]`.

A child process runs netsim (`--hosts` hosts on loopback, 5 accounts each, good events only,
every round's frames made and signed before the round starts, so the child mostly sends). This
process builds the slurper's real stack as `Slurper` does — the tracer provider the runtime
installs, one `Subscription` per host with its `RateLimiter` (the per-second window sized for the
rate), a real `FramePublisher` on a real nats-server with the `RAW_FRAMES` stream — follows every
host live, then per round: CPU of this process (`time.process_time_ns`) from just before the child
starts emitting until JetStream acked every frame of the round, ÷ frames. The same process's CPU
over `--idle-seconds` with every connection open and quiet is reported apart (keepalives, timers),
and not subtracted. The host store (the indexer) is left out: the hot path never calls it.

`--profile` runs cProfile over the rounds and prints the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import pstats
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from prometheus_client import REGISTRY

# `just bench` runs scripts by path, which puts bench/ (not the repo root) on sys.path; the
# simulator lives in the root's `tools` package. The spawned child inherits this path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.netsim.group import DirectoryUpdater, HostGroup
from tools.netsim.plc_directory import PlcDirectory
from tools.netsim.workload import Workload

_ACCOUNTS_PER_HOST = 5


# ---- netsim child ---------------------------------------------------------------------------


def netsim_child(hosts: int, pipe: Connection) -> None:
    asyncio.run(_netsim(hosts, pipe))


async def _netsim(hosts: int, pipe: Connection) -> None:
    group = HostGroup(range(hosts), hosts, seed="bench-slurper", keep_ledger=False)
    await group.start()
    directory = PlcDirectory("bench-slurper", [host.url for _, host in sorted(group.hosts.items())])
    group.add_accounts(directory.add_accounts(hosts * _ACCOUNTS_PER_HOST))
    updater = DirectoryUpdater(directory)  # nobody resolves here: the validator is not running
    pipe.send([host.hostname for _, host in sorted(group.hosts.items())])
    round_number = 0
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command == "stop":
            break
        rate, seconds = command
        round_number += 1
        workload = Workload(group, updater, rate=rate, seed=f"round-{round_number}")
        workload.prepare(int(rate * seconds))
        pipe.send("prepared")
        await asyncio.to_thread(pipe.recv)  # go
        result = await workload.run(seconds)
        pipe.send(result.events)
    await group.stop()


# ---- the slurper side -----------------------------------------------------------------------


def _published() -> float:
    return REGISTRY.get_sample_value("relay_slurper_frames_published_total") or 0.0


async def _measure(args: argparse.Namespace, pipe: Connection, hostnames: list[str]) -> None:
    from relay_devstack.nats import NatsServer
    from relay_runtime import tracing
    from relay_runtime.jetstream import connect, ensure_streams
    from relay_runtime.streams import DEFAULT_RAW_PARTITIONS, RAW_FRAMES
    from relay_slurper.backoff import BackoffPolicy
    from relay_slurper.frame_publisher import FramePublisher
    from relay_slurper.host_address import parse_host
    from relay_slurper.host_store import HostStatus
    from relay_slurper.rate_limits import RateLimiter, RateLimits
    from relay_slurper.subscription import Subscription, SubscriptionSettings
    from relay_slurper.tls import client_ssl_context

    tracing.configure_tracing("slurper")  # what the service runtime installs (no exporter)

    async def on_status(hostname: str, status: HostStatus, reason: str) -> None:
        del hostname, status, reason

    with tempfile.TemporaryDirectory() as nats_dir:
        nats_server = NatsServer(
            Path(nats_dir) / "store", client_port=0, monitor_port=0, log_path=Path(nats_dir) / "log"
        )
        nc = await connect(nats_server.start().client_url, name="bench-slurper")
        js = nc.jetstream()
        await ensure_streams(js, [RAW_FRAMES])
        publisher = FramePublisher(
            js, partitions=DEFAULT_RAW_PARTITIONS, max_in_flight=4096, ack_timeout_seconds=10.0
        )
        settings = SubscriptionSettings(
            ssl_context=client_ssl_context(""),
            dev_mode=True,
            max_frame_bytes=5_000_000,
            ping_interval_seconds=30.0,
            open_timeout_seconds=30.0,
            backoff=BackoffPolicy(),
            ack_timeout_seconds=10.0,
        )
        # The service's default windows for an account limit of 1,000,000 (what the pipeline
        # bench configures): 1,050/s per host, far above what one host sends here.
        limits = RateLimits(per_second=1050, per_hour=1_002_500, per_day=10_020_000)
        subscriptions = [
            Subscription(
                parse_host(name, dev_mode=True),
                cursor=None,
                limiter=RateLimiter(limits),
                publisher=publisher,
                settings=settings,
                on_status=on_status,
            )
            for name in hostnames
        ]
        tasks = [asyncio.create_task(s.run()) for s in subscriptions]
        try:
            deadline = time.monotonic() + 30
            while not all(s.state().connected for s in subscriptions):
                if time.monotonic() > deadline:
                    raise RuntimeError("the slurper did not connect to every netsim host")
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            idle0 = time.process_time_ns()
            await asyncio.sleep(args.idle_seconds)
            idle_us_per_second = (time.process_time_ns() - idle0) / 1000 / args.idle_seconds
            profiler = cProfile.Profile() if args.profile else None
            per_frame: list[float] = []
            kernel_share: list[float] = []
            for _ in range(args.rounds):
                cpu_us, kernel = await _round(args, pipe, profiler)
                per_frame.append(cpu_us)
                kernel_share.append(kernel)
            print(
                f"slurper: {args.hosts} hosts, {args.rate:,.0f} frames/s for {args.seconds:g} s "
                f"x {args.rounds} rounds; idle {idle_us_per_second:,.0f} µs CPU per second"
            )
            print("CPU µs per frame by round: " + ", ".join(f"{v:.1f}" for v in per_frame))
            print("kernel share by round: " + ", ".join(f"{v:.0%}" for v in kernel_share))
            print(
                f"median {statistics.median(per_frame):.1f}, min {min(per_frame):.1f}, "
                f"max {max(per_frame):.1f} µs CPU per frame"
            )
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile_lines)
        finally:
            for s in subscriptions:
                s.stop()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
            await nc.close()
            nats_server.stop()


async def _round(
    args: argparse.Namespace, pipe: Connection, profiler: cProfile.Profile | None
) -> tuple[float, float]:
    """One round: CPU µs per frame, and the kernel's share of that CPU."""
    loop = asyncio.get_running_loop()
    pipe.send((args.rate, args.seconds))
    await loop.run_in_executor(None, pipe.recv)  # prepared
    published0 = _published()
    await asyncio.sleep(0.2)
    if profiler is not None:
        profiler.enable()
    times0 = os.times()
    cpu0 = time.process_time_ns()
    pipe.send("go")
    events: int = await loop.run_in_executor(None, pipe.recv)
    deadline = time.monotonic() + 30
    while _published() - published0 < events:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_published() - published0:.0f} of {events} frames were acked")
        await asyncio.sleep(0.002)
    cpu = time.process_time_ns() - cpu0
    times1 = os.times()
    if profiler is not None:
        profiler.disable()
    user = times1.user - times0.user
    system = times1.system - times0.system
    return cpu / 1000 / events, system / max(1e-9, user + system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000.0, help="frames/s over all hosts")
    parser.add_argument("--seconds", type=float, default=5.0, help="emission per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=2.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-lines", type=int, default=40)
    args = parser.parse_args()
    parent, child = mp.Pipe()
    sim = mp.get_context("spawn").Process(target=netsim_child, args=(args.hosts, child), daemon=True)
    sim.start()
    try:
        hostnames = parent.recv()
        asyncio.run(_measure(args, parent, hostnames))
    finally:
        parent.send("stop")
        sim.join(timeout=30)
        if sim.is_alive():
            sim.kill()


if __name__ == "__main__":
    main()
