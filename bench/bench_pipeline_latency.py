"""PDS → consumer latency through the whole relay, fed by netsim on loopback.

The relay runs as `./dev up` runs it (``python -m relay_devstack up`` in a temp state dir and a free
port range, pointed at netsim's PLC directory); netsim's hosts (one child process) are added with
``requestCrawl`` on the router origin and the bench waits until the slurper follows each of them
live. Warm-up (``--no-warm-up`` to skip): netsim sends every account's creation sequence at the
rate, then the bench waits ``--settle-seconds``; those frames are reported apart, since a window
that starts cold creates every account in its first half second (with 100 accounts, ~400 frames
into cold caches: a transient that took all of the p99 in earlier runs). Then netsim emits at
``--rate`` for ``--seconds`` (frames made and signed before the relay
starts, stamped with ``time`` as they go out; ``--no-prepare`` makes them as it emits, which costs
netsim ~4x the CPU during the window), and a WebSocket consumer on the router's
``subscribeRepos`` records, per frame, receive time − the body's ``time`` (set by netsim when it
emits, millisecond precision). Reported: p50/p95/p99/max, frames received against the ledger's
``ok`` lines, and CPU per process of the stack over the emission window (psutil).

Per stage (``--stages``, on by default): after the drain the bench reads the VERIFIED stream back
and, per relay seq, splits the latency at the slurper's receive time (``received_at_us``), the
validator's batch time (``verified_at_us``) and the time JetStream stored the event, so the stage
that holds the queue shows.

    uv run --frozen python bench/bench_pipeline_latency.py [--hosts 20] [--rate 1000] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import grpc
import httpx
import nats
import psutil
import websockets
from prometheus_client.parser import text_string_to_metric_families
from relay_core.firehose.frames import decode_frame
from relay_devstack.stack import SERVICE_NAMES, free_port_offset, service_ports
from relay_proto.events.v1 import events_pb2
from relay_proto.slurper.v1 import slurper_pb2, slurper_pb2_grpc
from relay_runtime.streams import VERIFIED

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.netsim.group import DirectoryUpdater, HostGroup  # noqa: E402
from tools.netsim.plc_directory import PlcDirectory, running_plc_directory  # noqa: E402
from tools.netsim.workload import Workload  # noqa: E402

# ---- netsim child ---------------------------------------------------------------------------


def netsim_child(
    hosts: int,
    accounts: int,
    rate: float,
    seconds: float,
    ledger: str,
    pipe: Pipe,
    key_rotations: bool,
    prepare: bool,
    warm_up: bool,
) -> None:
    asyncio.run(_netsim(hosts, accounts, rate, seconds, Path(ledger), pipe, key_rotations, prepare, warm_up))


async def _netsim(
    hosts: int,
    accounts: int,
    rate: float,
    seconds: float,
    ledger: Path,
    pipe: Pipe,
    key_rotations: bool,
    prepare: bool,
    warm_up: bool,
) -> None:
    with ledger.open("w") as ledger_out:
        group = HostGroup(range(hosts), hosts, seed="bench", ledger_out=ledger_out, keep_ledger=False)
        await group.start()
        endpoints = [f"http://localhost:{port}" for _, port in sorted(group.ports.items())]
        directory = PlcDirectory("bench", endpoints)
        dids = directory.add_accounts(hosts * accounts)
        group.add_accounts(dids)
        async with running_plc_directory(directory) as plc_url:
            # The directory runs in this process: identity changes go to it directly, not through
            # an HTTP request to ourselves (both ends of which netsim paid during the window).
            workload = Workload(
                group,
                DirectoryUpdater(directory),
                rate=rate,
                broken_ratio=0.0,
                seed="b",
                key_rotations=key_rotations,
            )
            pipe.send((plc_url, endpoints))
            await asyncio.to_thread(pipe.recv)  # the relay follows every host
            created = await workload.create_all() if warm_up else 0
            # Made and signed before the window, so that during the measurement netsim costs
            # little more than its sends (a few more than the window needs: past the prepared
            # frames it would make events as it goes).
            prepare_cpu = 0.0
            remaining = int(rate * seconds * 1.02) + 8 if prepare else 0
            while remaining > 0:
                # In slices: the PLC directory is served from this event loop, and the relay is
                # still resolving the accounts just created.
                before = workload.prepared
                prepare_cpu += workload.prepare(min(remaining, 200))
                remaining -= workload.prepared - before
                await asyncio.sleep(0)
            pipe.send((created, prepare_cpu))
            await asyncio.to_thread(pipe.recv)  # go
            result = await workload.run(seconds)
            await asyncio.to_thread(pipe.recv)  # stop
        await group.stop()
    pipe.send((result.events, result.elapsed_seconds, result.cpu_seconds))


# ---- the relay ------------------------------------------------------------------------------


def devstack(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay_devstack", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"devstack {args[0]} failed:\n{result.stdout}\n{result.stderr}")


def wait_ready(offset: int, timeout_seconds: float = 90.0) -> None:
    pending = set(SERVICE_NAMES)
    deadline = time.monotonic() + timeout_seconds
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            try:
                url = f"http://127.0.0.1:{service_ports(name, offset).ops}/readyz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        pending.discard(name)
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.25)
    if pending:
        raise RuntimeError(f"not ready: {sorted(pending)}")


async def crawl_all(origin: str, offset: int, endpoints: list[str]) -> None:
    hostnames = {e.removeprefix("http://") for e in endpoints}
    async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
        for hostname in sorted(hostnames):
            response = await client.post("/xrpc/com.atproto.sync.requestCrawl", json={"hostname": hostname})
            response.raise_for_status()
    address = f"127.0.0.1:{service_ports('slurper', offset).grpc}"
    deadline = time.monotonic() + 60
    async with grpc.aio.insecure_channel(address) as channel:
        stub = slurper_pb2_grpc.SlurperServiceStub(channel)
        while time.monotonic() < deadline:
            listed = await stub.ListConnections(slurper_pb2.ListConnectionsRequest(), timeout=5)
            if hostnames <= {c.hostname for c in listed.connections if c.connected}:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the slurper did not connect to every host")


def stack_processes(state_dir: Path) -> dict[str, psutil.Process]:
    stack = json.loads((state_dir / "stack.json").read_text())
    out = {s["name"]: psutil.Process(s["pid"]) for s in stack["services"]}
    for child in psutil.Process(stack["supervisor_pid"]).children(recursive=True):
        name = child.name()
        if "nats" in name:
            out.setdefault("nats-server", child)
        elif "postgres" in name or "postgres" in " ".join(child.cmdline()[:1]):
            out[f"postgres:{child.pid}"] = child
    return out


def cpu_seconds(procs: dict[str, psutil.Process]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, proc in procs.items():
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        key = "postgres" if name.startswith("postgres:") else name
        out[key] = out.get(key, 0.0) + times.user + times.system
    return out


# ---- per-stage split ------------------------------------------------------------------------


async def stage_latencies(
    state_dir: Path, received: dict[int, float], since: float
) -> dict[str, list[float]]:
    """Seconds spent in each stage per event emitted from `since` on, from the VERIFIED stream's
    own records."""
    nats_url = json.loads((state_dir / "stack.json").read_text())["nats"]["client_url"]
    nc = await nats.connect(nats_url)
    stages: dict[str, list[float]] = {
        "netsim emit → slurper receive": [],
        "slurper receive → validator batch": [],
        "validator batch → VERIFIED stored": [],
        "VERIFIED stored → consumer receive": [],
    }
    try:
        js = nc.jetstream()
        sub = await js.subscribe(VERIFIED.subjects[0], ordered_consumer=True)
        info = await js.stream_info(VERIFIED.name)
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=10)
            event = events_pb2.VerifiedEvent.FromString(msg.data)
            meta = msg.metadata
            seq, stored = meta.sequence.stream, meta.timestamp.timestamp()
            if seq not in received or not event.event_time or not event.received_at_us:
                continue
            emitted = datetime.fromisoformat(event.event_time.replace("Z", "+00:00")).timestamp()
            if emitted < since:
                continue
            stages["netsim emit → slurper receive"].append(event.received_at_us / 1e6 - emitted)
            stages["slurper receive → validator batch"].append(
                (event.verified_at_us - event.received_at_us) / 1e6
            )
            stages["validator batch → VERIFIED stored"].append(stored - event.verified_at_us / 1e6)
            stages["VERIFIED stored → consumer receive"].append(received[seq] - stored)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return stages


def quantile_ms(ordered: list[float], q: float) -> float:
    """The `q` quantile of sorted seconds, in milliseconds."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def scrape_timings(offset: int) -> list[str]:
    """Mean wall time of the validator's batches and of the gRPC calls it makes, and the
    bucketed p50/p99 of the queues between slurper and validator, from /metrics."""
    means = {
        "validator": ("relay_validator_batch_seconds",),
        "indexer": ("relay_grpc_server_request_seconds",),
        "resolver": ("relay_grpc_server_request_seconds",),
    }
    quantiles = {
        "slurper": "relay_slurper_publish_ack_seconds",
        "validator": "relay_validator_raw_wait_seconds",
    }
    lines = []
    for service in ("slurper", "validator", "indexer", "resolver"):
        url = f"http://127.0.0.1:{service_ports(service, offset).ops}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == quantiles.get(service):
                buckets = [
                    (float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")
                ]
                total = buckets[-1][1] if buckets else 0
                marks = []
                for q in (0.5, 0.99):
                    bound = next((le for le, count in buckets if count >= q * total), float("inf"))
                    marks.append(f"p{round(q * 100)} ≤ {bound * 1000:g} ms")
                lines.append(f"{family.name}: {total:,.0f} observations, " + ", ".join(marks))
            if family.name in ("relay_validator_dependency_failures", "relay_validator_events_dropped"):
                for sample in family.samples:
                    if sample.name.endswith("_total") and sample.value:
                        lines.append(f"{sample.name}{dict(sample.labels)}: {sample.value:,.0f}")
            if family.name not in means.get(service, ()):
                continue
            sums: dict[str, float] = {}
            counts: dict[str, float] = {}
            for sample in family.samples:
                label = sample.labels.get("method", "batch")
                if sample.name.endswith("_sum"):
                    sums[label] = sample.value
                elif sample.name.endswith("_count"):
                    counts[label] = sample.value
            for label, count in sorted(counts.items()):
                if count:
                    lines.append(
                        f"{service} {label}: {count:,.0f} × mean {sums[label] / count * 1000:.1f} ms"
                    )
    return lines


# ---- consumer -------------------------------------------------------------------------------


async def consume(
    url: str,
    latencies: list[tuple[float, float]],
    counts: dict[str, int],
    stop: asyncio.Event,
    received: dict[int, float] | None = None,
) -> None:
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.5):
                    message = await ws.recv()
            except TimeoutError:
                continue
            now = time.time()
            assert isinstance(message, bytes)
            frame = decode_frame(message)
            kind = frame.type or "error"
            counts[kind] = counts.get(kind, 0) + 1
            seq = frame.body.get("seq")
            if received is not None and isinstance(seq, int):
                received[seq] = now
            stamp = frame.body.get("time")
            if isinstance(stamp, str):
                emitted = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
                latencies.append((emitted, now - emitted))


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    ledger = root / "ledger.jsonl"
    parent, child = mp.Pipe()
    sim = mp.get_context("spawn").Process(
        target=netsim_child,
        args=(
            args.hosts,
            args.accounts_per_host,
            args.rate,
            args.seconds,
            str(ledger),
            child,
            args.key_rotations,
            args.prepare,
            args.warm_up,
        ),
    )
    sim.start()
    loop = asyncio.get_running_loop()
    plc_url, endpoints = await loop.run_in_executor(None, parent.recv)
    offset = free_port_offset(os.getpid())
    env = {
        **os.environ,
        "RELAY_RESOLVER_PLC_URL": plc_url,
        "RELAY_SLURPER_UPSTREAM_RELAY": "off",
        "RELAY_VALIDATOR_DEFAULT_ACCOUNT_LIMIT": "1000000",
        "RELAY_SLURPER_DEFAULT_ACCOUNT_LIMIT": "1000000",
        "RELAY_ADMIN_TOKENS": "bench-admin-token-0123456789",
        "LOG_LEVEL": "WARNING",
    }
    state_dir = root / "stack"
    devstack(["up", "--state-dir", str(state_dir), "--port-offset", str(offset)], env)
    try:
        wait_ready(offset)
        origin = f"http://127.0.0.1:{2470 + offset}"
        await crawl_all(origin, offset, endpoints)
        procs = stack_processes(state_dir)
        latencies: list[tuple[float, float]] = []
        counts: dict[str, int] = {}
        stop = asyncio.Event()
        url = f"ws://127.0.0.1:{2470 + offset}/xrpc/com.atproto.sync.subscribeRepos"
        received: dict[int, float] = {}
        consumer = asyncio.create_task(consume(url, latencies, counts, stop, received))
        await asyncio.sleep(1.0)
        parent.send("ready")
        created, prepare_cpu = await loop.run_in_executor(None, parent.recv)
        await asyncio.sleep(args.settle_seconds if created else 0.0)
        window_start = time.time()
        cpu0, wall0 = cpu_seconds(procs), time.monotonic()
        parent.send("go")
        await asyncio.sleep(args.seconds)
        cpu1, wall = cpu_seconds(procs), time.monotonic() - wall0
        await asyncio.sleep(args.drain_seconds)
        stop.set()
        await consumer
        parent.send("stop")
        events, elapsed, sim_cpu = await loop.run_in_executor(None, parent.recv)
        sim.join()
        stages = await stage_latencies(state_dir, received, window_start) if args.stages else {}
        timings = scrape_timings(offset) if args.stages else []
    finally:
        devstack(["down", "--state-dir", str(state_dir)], env)
    ok = sum(1 for line in ledger.read_text().splitlines() if json.loads(line)["expect"] == "ok")
    lat = sorted(latency for emitted, latency in latencies if emitted >= window_start)
    warm = sorted(latency for emitted, latency in latencies if emitted < window_start)

    def pct(q: float) -> float:
        return quantile_ms(lat, q)

    print(f"netsim: {events} events in {elapsed:.1f} s = {events / elapsed:,.0f}/s over {args.hosts} hosts")
    if args.prepare:
        print(f"netsim: made and signed its frames ahead ({prepare_cpu:.1f} s CPU before the window)")
    print(f"consumer: {sum(counts.values())} frames ({counts}) vs ledger ok {ok}")
    if warm:
        print(
            f"warm-up (every account's creation sequence, {created} frames, then {args.settle_seconds:g} s):"
            f" p50 {quantile_ms(warm, 0.5):.1f} ms, p99 {quantile_ms(warm, 0.99):.1f} ms,"
            f" max {warm[-1] * 1000:.1f} ms (not in the figures below)"
        )
    if lat:
        print(
            f"latency netsim emit → consumer receive: p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, "
            f"p99 {pct(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms (n={len(lat)})"
        )
    for name, values in stages.items():
        ordered = sorted(values)
        if ordered:
            at = [quantile_ms(ordered, q) for q in (0.5, 0.95, 0.99)]
            print(f"  stage {name:<34} p50 {at[0]:8.1f}  p95 {at[1]:8.1f}  p99 {at[2]:8.1f} ms")
    for line in timings:
        print(f"  {line}")
    print(
        f"CPU over the {wall:.1f} s emission window, % of one core (netsim itself {sim_cpu / elapsed:.0%}):"
    )
    for name in sorted(cpu1, key=lambda n: -(cpu1[n] - cpu0.get(n, 0.0))):
        used = cpu1[name] - cpu0.get(name, 0.0)
        print(f"  {name:<12} {used / wall:6.0%}  ({used / max(1, events) * 1e6:,.0f} µs/event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--accounts-per-host", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--drain-seconds", type=float, default=10.0)
    parser.add_argument(
        "--no-prepare",
        dest="prepare",
        action="store_false",
        help="netsim makes and signs each event as it emits it (default: all made before the window)",
    )
    parser.add_argument("--no-stages", dest="stages", action="store_false", help="skip the per-stage split")
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="start cold: accounts are created during the window (a storm of new accounts)",
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=3.0, help="pause between the warm-up and the window"
    )
    parser.add_argument(
        "--no-key-rotations",
        dest="key_rotations",
        action="store_false",
        help="leave netsim's 1%% signing-key rotations out (to compare: old-key commits need key histories)",
    )
    asyncio.run(main(parser.parse_args()))
