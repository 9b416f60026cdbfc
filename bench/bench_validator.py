"""Validator throughput: the pure decision, and one replica's pipeline end to end through JetStream.

    uv run --frozen python -m bench.bench_validator judge [--accounts 50] [--commits 40]
    uv run --frozen python -m bench.bench_validator pipeline [--hosts 8] [--accounts 200] [--commits 50]
        [--verify-workers 2]

`judge`: decode_event + judge per 1-op `#commit` with state and identity pre-warmed, no I/O (what
one partition does per frame besides I/O).

`pipeline`: one validator replica (every partition, production batch size and clients) runs in
this process against real NATS JetStream, the real indexer (`python -m relay_indexer`, Postgres +
RocksDB) and the real resolver (`python -m relay_resolver`, over a netsim PLC directory served
from this process), both as separate processes. Warm-up: every account's genesis (#identity,
#account, #commit, #sync) goes through the pipeline, so the indexer holds each account and the
validator's identity cache is warm (its account-state cache expires after 10 s as in production,
so a drain longer than that re-reads state in batches). Then the pipeline stops, `--commits` 1-op
commits per account are published to RAW_FRAMES (accounts interleaved per host), and a new
pipeline over the same `Validation` (warm caches) drains them: commits/s is wall time from start
to the last event in VERIFIED; CPU is this process's user+system time over the drain (the PLC
server in this process is idle by then), so it is the validator's main process alone. With
`--verify-workers N` the replica verifies in N worker processes (RELAY_VALIDATOR_VERIFY_WORKERS);
their CPU, nats-server's and the indexer's are read with psutil over the same drain. Also reported:
the batches judged (mean size), and the indexer's GetAccounts/UpsertAccounts calls (its /metrics).

All events come from the network simulator: real MSTs, k256 signatures, sync v1.1 proofs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import nats
import psutil
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from relay_core.firehose.frames import encode_frame
from relay_core.syntax.did import Did
from relay_devstack.nats import NatsServer
from relay_devstack.postgres import PostgresCluster
from relay_proto.events.v1 import events_pb2
from relay_proto.indexer.v1 import indexer_pb2, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2
from relay_runtime.gc_tuning import frozen_startup_objects
from relay_runtime.jetstream import ensure_streams
from relay_runtime.streams import (
    DEFAULT_RAW_PARTITIONS,
    RAW_FRAMES,
    VERIFIED,
    partition_for_host,
    raw_frame_msg_id,
    raw_subject,
)
from relay_validator import metrics
from relay_validator.account_state import AccountState
from relay_validator.config import DEFAULT_BATCH_SIZE
from relay_validator.decode import decode_event
from relay_validator.identity import AccountIdentity
from relay_validator.indexer_client import IndexerClient
from relay_validator.judge import Context, judge
from relay_validator.resolver_client import ResolverClient
from relay_validator.service import ValidatorPipeline
from relay_validator.validation import CachePolicy, Validation
from relay_validator.verdict import Accept, Drop
from relay_validator.verified_publisher import VerifiedPublisher
from relay_validator.verify_pool import VerifyPool

from tests.integration.ingest.pipeline import (
    ServiceProcess,
    free_port,
    metric_samples,
    reset_streams,
    verified_count,
)
from tools.netsim.plc_directory import PlcDirectory, derive_account, running_plc_directory
from tools.netsim.repo import PreparedEvent, RevClock, Signer, SimRepo

HOST = "pds.bench"
SEED = "bench-validator"
PARTITIONS = DEFAULT_RAW_PARTITIONS
"""The production default of RELAY_RAW_PARTITIONS."""


def _sim_repo(index: int, endpoints: tuple[str, ...]) -> tuple[SimRepo, AccountIdentity]:
    account = derive_account(SEED, index, endpoints)
    did = Did(account.did)
    repo = SimRepo(
        index=index,
        did=did,
        handle=account.handle,
        signer=Signer(account.signing_key.to_bytes()),
        signing_key=account.signing_key.public_key.did_key(),
    )
    identity = AccountIdentity(
        did=did,
        signing_key=account.signing_key.public_key,
        pds_host=account.pds_endpoint.removeprefix("https://"),
        handle=account.handle,
        handle_verified=True,
        resolved_at_us=0,
    )
    return repo, identity


def bench_judge(args: argparse.Namespace) -> None:
    rng, clock = random.Random(1), RevClock()
    frames: list[tuple[Did, bytes]] = []
    identities: dict[Did, AccountIdentity] = {}
    states: dict[Did, AccountState] = {}
    seq = 0
    for index in range(args.accounts):
        repo, identity = _sim_repo(index, (f"https://{HOST}",))
        repo.genesis(clock)
        assert repo.rev is not None and repo.head is not None
        states[repo.did] = AccountState(
            did=repo.did, host=HOST, rev=repo.rev, commit_cid=repo.head, data_cid=repo.tree.root
        )
        identities[repo.did] = identity
        for _ in range(args.commits):
            seq += 1
            event = repo.mutate(rng, clock)
            frames.append((repo.did, encode_frame(event.type, {**event.body, "seq": seq})))
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


@dataclass
class _Host:
    """One simulated PDS: its repos and its seq counter; publishes RawFrames like the slurper."""

    name: str
    repos: list[SimRepo]
    seq: int = 0

    def raw(self, event: PreparedEvent) -> tuple[str, bytes, str]:
        self.seq += 1
        frame = encode_frame(event.type, {**event.body, "seq": self.seq})
        raw = events_pb2.RawFrame(
            host=self.name, upstream_seq=self.seq, received_at_us=time.time_ns() // 1000, frame=frame
        )
        subject = raw_subject(partition_for_host(self.name, PARTITIONS))
        return subject, raw.SerializeToString(), raw_frame_msg_id(self.name, self.seq)


async def _publish(js: JetStreamContext, raws: list[tuple[str, bytes, str]]) -> None:
    for start in range(0, len(raws), 2000):
        futures = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
            for subject, payload, msg_id in raws[start : start + 2000]
        ]
        await asyncio.gather(*futures)


def _validation(
    js: JetStreamContext, indexer: grpc.aio.Channel, resolver: grpc.aio.Channel, verifier: VerifyPool | None
) -> Validation:
    """As `relay_validator.main` wires it, with the config defaults."""
    return Validation(
        accounts=IndexerClient(indexer, timeout_seconds=5.0, default_account_limit=100),
        identities=ResolverClient(resolver, max_batch_dids=1000, timeout_seconds=5.0),
        publisher=VerifiedPublisher(js, timeout_seconds=10.0),
        policy=CachePolicy(),
        verifier=verifier,
    )


def _cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        out[name] = total
    return out


async def _drain(
    nc: NatsClient,
    js: JetStreamContext,
    validation: Validation,
    target: int,
    profile: cProfile.Profile | None,
    others: dict[str, list[int]] | None = None,
) -> tuple[float, float, dict[str, float]]:
    """Run a pipeline over `validation` until VERIFIED holds `target` messages: wall s, this
    process's CPU s, and the CPU s of each group of `others` processes (psutil)."""
    pipeline = ValidatorPipeline(
        nc,
        js,
        validation,
        tuple(range(PARTITIONS)),
        batch_size=DEFAULT_BATCH_SIZE,
        fetch_timeout_seconds=0.1,
        retry_seconds=0.05,
    )
    stop = asyncio.Event()
    others = others or {}
    # As the service's `serve` does: what exists before the drain is out of the GC's full scans.
    # Here that also covers netsim's repos and frames, which made each full collection of this
    # process 86-135 ms (12 of them in a 30,000-commit drain) where the service has none.
    with frozen_startup_objects():
        others0 = _cpu_seconds(others)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        task = asyncio.create_task(pipeline.run(stop))
        while await verified_count(js) < target:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        others1 = _cpu_seconds(others)
        if profile is not None:
            profile.disable()
        stop.set()
        await task
    return wall, cpu, {name: others1[name] - others0[name] for name in others}


def _indexer_calls(service: ServiceProcess) -> dict[str, float]:
    samples = metric_samples(service.metrics_text(), "relay_grpc_server_requests_total")
    out: dict[str, float] = {}
    for labels, value in samples.items():
        method = dict(labels).get("method", "")
        out[method] = out.get(method, 0.0) + value
    return out


def _service(name: str, env: dict[str, str], root: Path) -> ServiceProcess:
    upper = name.upper()
    grpc_port, ops_port = free_port(), free_port()
    env = {**env, f"RELAY_{upper}_GRPC_PORT": str(grpc_port), f"RELAY_{upper}_OPS_PORT": str(ops_port)}
    return ServiceProcess(name, env, grpc_port, ops_port, root / f"{name}.log")


async def bench_pipeline(args: argparse.Namespace) -> None:
    hostnames = [f"pds{i}.bench" for i in range(args.hosts)]
    endpoints = tuple(f"https://{h}" for h in hostnames)
    hosts = {name: _Host(name, []) for name in hostnames}
    for index in range(args.accounts):
        repo, identity = _sim_repo(index, endpoints)
        hosts[identity.pds_host or ""].repos.append(repo)
    print(f"partitions used: {sorted({partition_for_host(h, PARTITIONS) for h in hostnames})}")

    # Started first, like the service does.
    verifier = VerifyPool(args.verify_workers) if args.verify_workers else None
    if verifier is not None:
        verifier.start()
    root = Path(tempfile.mkdtemp(prefix="bench-validator-"))
    nats_server = NatsServer(root / "nats", client_port=0, monitor_port=0, log_path=root / "nats.log")
    cluster = PostgresCluster(root / "pg", database="postgres", tuned_for_tests=True)
    services: list[ServiceProcess] = []
    try:
        url = nats_server.start().client_url
        cluster.start()
        cluster.create_database("bench")
        nc = await nats.connect(url)
        js = nc.jetstream()
        await reset_streams(js)
        # The production byte caps exceed the temp dir's disk; the rest of each definition is kept.
        await ensure_streams(js, [replace(s, max_bytes=1024**3) for s in (RAW_FRAMES, VERIFIED)])
        directory = PlcDirectory(SEED, endpoints)
        directory.add_accounts(args.accounts)
        async with running_plc_directory(directory) as plc_url:
            base = {**os.environ, "NATS_URL": url, "RELAY_DEV_MODE": "true", "LOG_LEVEL": "WARNING"}
            resolver = _service("resolver", {**base, "RELAY_RESOLVER_PLC_URL": plc_url}, root)
            indexer = _service(
                "indexer",
                {
                    **base,
                    "RELAY_INDEXER_HTTP_PORT": str(free_port()),
                    "DATABASE_URL": cluster.dsn("bench"),
                    "RELAY_INDEXER_ROCKSDB_PATH": str(root / "collections"),
                },
                root,
            )
            services = [resolver, indexer]
            for service in services:
                service.start()
            for service in services:
                await service.wait_ready()
            indexer_channel = grpc.aio.insecure_channel(indexer.address)
            resolver_channel = grpc.aio.insecure_channel(resolver.address)
            stub = indexer_pb2_grpc.IndexerServiceStub(indexer_channel)
            for name in hostnames:
                host = types_pb2.Host(hostname=name, trusted=True)
                await stub.UpsertHost(
                    indexer_pb2.UpsertHostRequest(host=host), timeout=10, wait_for_ready=True
                )

            clock = RevClock()
            genesis = [h.raw(e) for h in hosts.values() for r in h.repos for e in r.genesis(clock)]
            await _publish(js, genesis)
            validation = _validation(js, indexer_channel, resolver_channel, verifier)
            wall, _, _ = await _drain(nc, js, validation, len(genesis), None)
            print(f"warm-up: {len(genesis)} genesis events in {wall:.1f} s")

            rng = random.Random(1)
            t0 = time.perf_counter()
            commits = [
                h.raw(r.mutate(rng, clock))
                for _ in range(args.commits)
                for h in hosts.values()
                for r in h.repos
            ]
            print(f"built {len(commits)} commits in {time.perf_counter() - t0:.1f} s")
            await _publish(js, commits)
            calls0 = _indexer_calls(indexer)
            batches0 = _batch_count()
            profile = cProfile.Profile() if args.profile else None
            load0 = os.getloadavg()[0]
            others = {
                "verify workers": verifier.pids() if verifier is not None else [],
                "nats-server": [nats_server.pid] if nats_server.pid is not None else [],
                "indexer": [indexer.pid],
            }
            wall, cpu, other_cpu = await _drain(
                nc, js, validation, len(genesis) + len(commits), profile, others
            )
            calls = {k: v - calls0.get(k, 0.0) for k, v in _indexer_calls(indexer).items()}
            batches = _batch_count() - batches0
            n = len(commits)
            assert validation.verified == len(genesis) + n, (validation.verified, validation.drops)
            print(f"load average (1 min) before/after: {load0:.2f} / {os.getloadavg()[0]:.2f}")
            print(f"commits drained: {n} in {wall:.2f} s wall → {n / wall:,.0f} commits/s")
            workers = args.verify_workers
            per_core = n / cpu
            print(f"validator main process CPU: {cpu * 1e6 / n:.0f} µs/commit ({per_core:,.0f}/s per core)")
            if workers:
                worker_cpu = other_cpu["verify workers"]
                print(f"verify workers ({workers}) CPU: {worker_cpu * 1e6 / n:.0f} µs/commit in all")
                print(f"validator total CPU: {(cpu + worker_cpu) * 1e6 / n:.0f} µs/commit")
            for name in ("nats-server", "indexer"):
                print(f"{name} CPU: {other_cpu[name] * 1e6 / n:.0f} µs/commit")
            print(f"batches: {batches:.0f} (mean {n / max(batches, 1):.0f} frames)")
            print(
                "indexer calls: "
                + ", ".join(f"{k} {v:.0f}" for k, v in sorted(calls.items()) if v and "Account" in k)
            )
            if profile is not None:
                profile.dump_stats(args.profile)
                print(f"profile written to {args.profile}")
            await indexer_channel.close()
            await resolver_channel.close()
            for service in services:
                await asyncio.to_thread(service.stop)
        await nc.close()
    finally:
        for service in services:
            service.stop()
        cluster.stop()
        nats_server.stop()
        shutil.rmtree(root, ignore_errors=True)
        if verifier is not None:
            verifier.close()


def _batch_count() -> float:
    for metric in metrics.BATCH_SECONDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return sample.value
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    pure = sub.add_parser("judge", help="decode_event + judge only, no I/O")
    pure.add_argument("--accounts", type=int, default=50)
    pure.add_argument("--commits", type=int, default=40)
    e2e = sub.add_parser("pipeline", help="one replica through JetStream, indexer and resolver")
    e2e.add_argument("--hosts", type=int, default=8)
    e2e.add_argument("--accounts", type=int, default=200)
    e2e.add_argument("--commits", type=int, default=50, help="per account")
    e2e.add_argument("--profile", help="write a cProfile of the drain to this file")
    e2e.add_argument(
        "--verify-workers", type=int, default=0, help="RELAY_VALIDATOR_VERIFY_WORKERS (0 = verify inline)"
    )
    args = parser.parse_args()
    if args.mode == "judge":
        bench_judge(args)
    else:
        asyncio.run(bench_pipeline(args))


if __name__ == "__main__":
    main()
