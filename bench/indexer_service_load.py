"""The indexer as a process under the load the relay puts on it: CPU per verified event and per
`UpsertAccounts` row. Used by `bench_indexer.py service`.

The real service (`python -m relay_indexer`: NATS JetStream, Postgres, RocksDB, gRPC) runs as a
child process; this process plays the validator. It publishes `VerifiedEvent`s on VERIFIED at a
steady rate with netsim's mix (95% 1-op commits, 3% #identity, 2% deactivations followed by a
reactivation; commit frames of realistic size), and persists account states the way the
validator's `AccountWriter` does for all its partitions: every 50 ms, every DID whose state
changed meanwhile in one `UpsertAccounts`, one call at a time. CPU is the child's user+system
time (psutil) from the first event until the consumer has acked everything and the last write
returned; Postgres's (postmaster and children) over the same window is reported beside it.

Phases, each repeated: `verified` (events only), `upserts` (the persister's writes only, for the
same events), `both` (what the pipeline does), and `idle` (no load, the fixed cost per second).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import nats
import psutil
from nats.aio.client import Client as Nats
from nats.js import JetStreamContext
from relay_devstack.nats import NatsServer
from relay_devstack.postgres import PostgresCluster
from relay_proto.events.v1 import events_pb2
from relay_proto.indexer.v1 import indexer_pb2 as pb, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2
from relay_runtime.streams import INDEXER, VERIFIED, verified_subject

_REPO = Path(__file__).resolve().parents[1]
_GROUP_SECONDS = 0.05
_TICK_SECONDS = 0.01
_FRAME_BYTES = 1_600
"""About a 1-op commit frame (commit block, MST path, record, CAR header)."""
_COLLECTIONS = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow", "app.bsky.feed.repost")
_CID = "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf6dqbymaeyq{:06d}"


@dataclass
class _Account:
    did: str
    host: str
    rev: int = 0
    records: int = 0
    active: bool = True


@dataclass(frozen=True, slots=True)
class PhaseResult:
    phase: str
    events: int
    calls: int
    rows: int
    seconds: float
    cpu_seconds: float
    postgres_cpu_seconds: float

    def per(self, count: int, *, postgres: bool = False) -> float:
        cpu = self.postgres_cpu_seconds if postgres else self.cpu_seconds
        return cpu / count * 1e6 if count else float("nan")


@dataclass
class _Persister:
    """The replica's one writer, as the validator's `AccountWriter` groups its writes."""

    stub: indexer_pb2_grpc.IndexerServiceStub
    changed: dict[str, _Account] = field(default_factory=dict)
    calls: int = 0
    rows: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and not self.changed):
            await asyncio.sleep(_GROUP_SECONDS)
            if not self.changed:
                continue
            group, self.changed = self.changed, {}
            request = pb.UpsertAccountsRequest(accounts=[_update(a) for a in group.values()])
            await self.stub.UpsertAccounts(request, timeout=30)
            self.calls += 1
            self.rows += len(group)


def _update(account: _Account) -> pb.AccountUpdate:
    return pb.AccountUpdate(
        did=account.did,
        host=account.host,
        upstream_status=types_pb2.ACCOUNT_STATUS_ACTIVE
        if account.active
        else types_pb2.ACCOUNT_STATUS_DEACTIVATED,
        desynchronized=False,
        rev=_rev(account.rev),
        commit_cid=_CID.format(account.rev % 1_000_000),
        data_cid=_CID.format((account.rev + 1) % 1_000_000),
    )


def _rev(n: int) -> str:
    return f"3l{n:011d}"


class _Workload:
    """Makes the next event for a random account (netsim's mix) and tracks account state."""

    def __init__(self, accounts: list[_Account], seed: int) -> None:
        self.accounts = accounts
        self.rng = random.Random(seed)
        self.seq = 0
        self.frame = self.rng.randbytes(_FRAME_BYTES)

    def _base(self, account: _Account, kind: str) -> events_pb2.VerifiedEvent:
        self.seq += 1
        now = time.time_ns() // 1000
        return events_pb2.VerifiedEvent(
            did=account.did,
            host=account.host,
            upstream_seq=self.seq,
            kind=kind,
            frame=self.frame,
            received_at_us=now,
            verified_at_us=now,
            event_time="2026-11-23T12:00:00.000Z",
        )

    def commit(self, account: _Account) -> events_pb2.VerifiedEvent:
        account.rev += 1
        delete = account.records > 0 and self.rng.random() < 0.3
        account.records += -1 if delete else 1
        event = self._base(account, "commit")
        event.rev = _rev(account.rev)
        path = f"{self.rng.choice(_COLLECTIONS)}/{_rev(self.rng.getrandbits(40))}"
        event.commit.commit_cid = _CID.format(account.rev % 1_000_000)
        event.commit.data_cid = _CID.format((account.rev + 1) % 1_000_000)
        event.commit.prev_data_cid = _CID.format(account.rev % 1_000_000)
        event.commit.since = _rev(account.rev - 1) if account.rev > 1 else ""
        event.commit.ops.add(
            action="delete" if delete else "create",
            path=path,
            cid="" if delete else _CID.format(self.seq % 1_000_000),
            prev_cid=_CID.format(self.seq % 1_000_000) if delete else "",
        )
        return event

    def next(self) -> tuple[_Account, events_pb2.VerifiedEvent]:
        account = self.rng.choice(self.accounts)
        if not account.active:
            account.active = True
            event = self._base(account, "account")
            event.account.active = True
            event.account.status = types_pb2.ACCOUNT_STATUS_ACTIVE
            return account, event
        roll = self.rng.random()
        if roll < 0.95:
            return account, self.commit(account)
        if roll < 0.98:
            event = self._base(account, "identity")
            event.identity.handle = f"u{self.seq}.{account.host}"
            event.identity.handle_verified = True
            return account, event
        account.active = False
        event = self._base(account, "account")
        event.account.active = False
        event.account.status = types_pb2.ACCOUNT_STATUS_DEACTIVATED
        return account, event


class IndexerUnderLoad:
    """NATS, Postgres and the indexer process, plus the validator's side of the load."""

    def __init__(self, root: Path, *, hosts: int, accounts: int, profile: Path | None) -> None:
        self.root = root
        self.hosts = [f"pds{i}.bench.test" for i in range(hosts)]
        self.accounts = [
            _Account(did=f"did:plc:{i:024d}".replace("0", "b"), host=self.hosts[i % hosts])
            for i in range(accounts)
        ]
        self.workload = _Workload(self.accounts, seed=11)
        self.profile = profile
        self._nats = NatsServer(root / "nats", client_port=_free_port(), monitor_port=_free_port())
        self._pg = PostgresCluster(root / "pg", database="indexer", tuned_for_tests=True)
        self._grpc_port, self._ops_port = _free_port(), _free_port()
        self._child: subprocess.Popen[bytes] | None = None
        self._nc: Nats | None = None
        self._channel: grpc.aio.Channel | None = None

    @property
    def pid(self) -> int:
        """The indexer's pid (under `profile`, the child of py-spy)."""
        assert self._child is not None
        if self.profile:
            return psutil.Process(self._child.pid).children()[0].pid
        return self._child.pid

    async def start(self) -> None:
        nats_url = self._nats.start().client_url
        self._pg.start()
        env = {
            **os.environ,
            "NATS_URL": nats_url,
            "DATABASE_URL": self._pg.dsn("indexer"),
            "RELAY_DEV_MODE": "true",
            "LOG_LEVEL": "WARNING",
            "RELAY_SHUTDOWN_GRACE_SECONDS": "5",
            "RELAY_INDEXER_GRPC_PORT": str(self._grpc_port),
            "RELAY_INDEXER_OPS_PORT": str(self._ops_port),
            "RELAY_INDEXER_HTTP_PORT": str(_free_port()),
            "RELAY_INDEXER_ROCKSDB_PATH": str(self.root / "collections"),
        }
        self._child = self._spawn(env)
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(self._ready):
            if self._child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.root / "indexer.log").read_text(errors="replace")[-3000:])
            await asyncio.sleep(0.2)
        self._nc = await nats.connect(nats_url)
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{self._grpc_port}")
        stub = self.stub()
        for host in self.hosts:
            await stub.UpsertHost(pb.UpsertHostRequest(host=types_pb2.Host(hostname=host)), timeout=10)

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "relay_indexer"]
        if self.profile:
            # Sampling, so asyncio callbacks and C extensions are attributed where they run.
            spy = ["py-spy", "record", "--rate", "250", "--format", "raw", "-o", str(self.profile)]
            command = [*spy, "--", *command]
        with open(self.root / "indexer.log", "ab") as log:
            return subprocess.Popen(command, cwd=_REPO, env=env, stdout=log, stderr=log)

    def stub(self) -> indexer_pb2_grpc.IndexerServiceStub:
        assert self._channel is not None
        return indexer_pb2_grpc.IndexerServiceStub(self._channel)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self._ops_port}/readyz", timeout=1) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._nc is not None:
            await self._nc.close()
        if self._child is not None:
            # The indexer itself: py-spy writes its profile when its target exits.
            os.kill(self.pid, signal.SIGTERM)
            await asyncio.to_thread(self._child.wait, 30)
        self._pg.stop()
        self._nats.stop()

    def _cpu(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def _postgres_cpu(self) -> float:
        """The postmaster and its children (backends, writers): it shares the box, so work moved
        into SQL must show somewhere."""
        postmaster = psutil.Process(int((self._pg.pgdata / "postmaster.pid").read_text().split()[0]))
        total = 0.0
        for process in [postmaster, *postmaster.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    async def _wait_drained(self, js: JetStreamContext, timeout_seconds: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            info = await js.consumer_info(VERIFIED.name, INDEXER.durable)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the indexer did not drain VERIFIED")

    async def phase(self, name: str, *, rate: float, seconds: float) -> PhaseResult:
        """Run one phase: `verified`, `upserts`, `both` or `idle`."""
        assert self._nc is not None
        js = self._nc.jetstream()
        publish, persist = name in ("verified", "both"), name in ("upserts", "both")
        persisters = [_Persister(self.stub())]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop)) for p in persisters] if persist else []
        cpu0, pg0, t0 = self._cpu(), self._postgres_cpu(), time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - t0) < seconds:
            due = int(rate * elapsed) - sent if name != "idle" else 0
            for _ in range(due):
                account, event = self.workload.next()
                if publish:
                    await self._nc.publish(verified_subject(event.kind), event.SerializeToString())
                if persist:
                    persisters[0].changed[account.did] = account
            sent += due
            await self._nc.flush()
            await asyncio.sleep(_TICK_SECONDS)
        stop.set()
        await asyncio.gather(*tasks)
        if publish:
            await self._wait_drained(js)
        return PhaseResult(
            phase=name,
            events=sent,
            calls=sum(p.calls for p in persisters),
            rows=sum(p.rows for p in persisters),
            seconds=time.monotonic() - t0,
            cpu_seconds=self._cpu() - cpu0,
            postgres_cpu_seconds=self._postgres_cpu() - pg0,
        )

    async def warm_up(self) -> None:
        """Every account's first commit applied and its row written (as after a genesis)."""
        assert self._nc is not None
        for account in self.accounts:
            event = self.workload.commit(account)
            await self._nc.publish(verified_subject("commit"), event.SerializeToString())
        await self.stub().UpsertAccounts(
            pb.UpsertAccountsRequest(accounts=[_update(a) for a in self.accounts]), timeout=30
        )
        await self._wait_drained(self._nc.jetstream())


def _free_port() -> int:
    sys.path.insert(0, str(_REPO))
    from tests.helpers.ports import free_port

    return free_port()
