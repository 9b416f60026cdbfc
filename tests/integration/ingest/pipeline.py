"""The ingest half of the relay as real processes: slurper → RAW_FRAMES → validator → VERIFIED,
with the real resolver (pointed at a netsim PLC directory) and the real indexer (Postgres +
RocksDB) beside them.

Each service is started as ``python -m relay_<svc>`` with its ports on free loopback ports and its
peers' addresses in ``RELAY_<PEER>_ADDRESS``, exactly as docs/config.md describes. A service can be
killed with SIGKILL and started again on the same ports (``ServiceProcess.kill9`` / ``start``).

Also used by ``bench/bench_ingest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client.parser import text_string_to_metric_families
from relay_proto.events.v1 import events_pb2
from relay_proto.slurper.v1 import slurper_pb2, slurper_pb2_grpc
from relay_proto.validator.v1 import validator_pb2, validator_pb2_grpc
from relay_runtime.streams import RAW_FRAMES, VERIFIED

from tests.helpers.ports import free_port

__all__ = [
    "IngestPipeline",
    "ServiceProcess",
    "Verified",
    "VerifiedReader",
    "free_port",
    "metric_samples",
    "raw_pending",
    "read_verified",
    "reset_streams",
    "start_pipeline",
]

_REPO = Path(__file__).resolve().parents[3]
DERIVED_SUFFIX = "/account"
"""Nats-Msg-Id suffix of the relay's own #account events (validator `DERIVED_MSG_ID_SUFFIX`)."""


@dataclass
class ServiceProcess:
    """One relay service as a child process; restartable on the same ports."""

    name: str
    env: dict[str, str]
    grpc_port: int
    ops_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"relay_{self.name}"],
                cwd=_REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self.starts += 1

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.ops_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    async def wait_ready(self, timeout_seconds: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while not await asyncio.to_thread(self.ready):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout_seconds}s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, grace_seconds: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.ops_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric (``name`` as exposed, e.g. ``..._total``), keyed by sorted labels."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


@dataclass
class IngestPipeline:
    """The four ingest services, started together; see the module docstring."""

    services: dict[str, ServiceProcess]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def _channel(self, name: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(self.services[name].address)
        self.channels.append(channel)
        return channel

    def slurper(self) -> slurper_pb2_grpc.SlurperServiceStub:
        return slurper_pb2_grpc.SlurperServiceStub(self._channel("slurper"))

    def validator(self) -> validator_pb2_grpc.ValidatorServiceStub:
        return validator_pb2_grpc.ValidatorServiceStub(self._channel("validator"))

    async def add_hosts(self, hostnames: list[str], timeout_seconds: float = 20.0) -> None:
        """SlurperService.AddHost for each host, then wait until ListConnections shows them all
        connected (a new host is followed live, so emission must start only after this)."""
        stub = self.slurper()
        for hostname in hostnames:
            answer = await stub.AddHost(slurper_pb2.AddHostRequest(hostname=hostname), timeout=10)
            assert answer.added, hostname
        await self.wait_connected(hostnames, timeout_seconds)

    async def wait_connected(self, hostnames: list[str], timeout_seconds: float = 20.0) -> None:
        stub = self.slurper()
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                answer = await stub.ListConnections(slurper_pb2.ListConnectionsRequest(), timeout=5)
                connected = {c.hostname for c in answer.connections if c.connected}
            except grpc.aio.AioRpcError:
                connected = set()
            if set(hostnames) <= connected:
                return
            if time.monotonic() > deadline:
                missing = sorted(set(hostnames) - connected)
                raise AssertionError(f"hosts not connected: {missing}\n{self['slurper'].log_tail()}")
            await asyncio.sleep(0.05)

    async def validator_drops(self) -> dict[str, int]:
        stats = await self.validator().GetStats(validator_pb2.GetStatsRequest(), timeout=5)
        return {d.reason: d.count for d in stats.drops if d.count}

    def slurper_drops(self) -> dict[str, int]:
        samples = metric_samples(self["slurper"].metrics_text(), "relay_slurper_frames_dropped_total")
        return {dict(k)["reason"]: int(v) for k, v in samples.items() if v}

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        # Slurper first (its cursors flush to the indexer), peers last.
        for name in ("slurper", "validator", "resolver", "indexer"):
            await asyncio.to_thread(self.services[name].stop)


def _service(name: str, base: Mapping[str, str], own: Mapping[str, str], state_dir: Path) -> ServiceProcess:
    upper = name.upper()
    grpc_port, ops_port = free_port(), free_port()
    env = {
        **base,
        f"RELAY_{upper}_GRPC_PORT": str(grpc_port),
        f"RELAY_{upper}_OPS_PORT": str(ops_port),
        **own,
    }
    return ServiceProcess(name, env, grpc_port, ops_port, state_dir / f"{name}.log")


async def reset_streams(js: JetStreamContext) -> None:
    """RAW_FRAMES and VERIFIED gone (with their consumers): the services create them afresh.
    Tests of one session share one NATS server."""
    for stream in (RAW_FRAMES, VERIFIED):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream.name)


@contextlib.asynccontextmanager
async def start_pipeline(
    *,
    nats_url: str,
    database_url: str,
    plc_url: str,
    state_dir: Path,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
) -> AsyncIterator[IngestPipeline]:
    """Start resolver, indexer, validator and slurper; yield once every one reports ready.

    Args:
        extra_env: per service name, more environment (e.g. tighter timeouts).
    """
    await asyncio.to_thread(state_dir.mkdir, parents=True, exist_ok=True)
    base = {
        **os.environ,
        "NATS_URL": nats_url,
        "RELAY_DEV_MODE": "true",
        "LOG_LEVEL": os.environ.get("INGEST_TEST_LOG_LEVEL", "WARNING"),
        "RELAY_SHUTDOWN_GRACE_SECONDS": "3",
    }
    extra = extra_env or {}
    resolver = _service(
        "resolver", base, {"RELAY_RESOLVER_PLC_URL": plc_url, **extra.get("resolver", {})}, state_dir
    )
    indexer = _service(
        "indexer",
        base,
        {
            "RELAY_INDEXER_HTTP_PORT": str(free_port()),
            "DATABASE_URL": database_url,
            "RELAY_INDEXER_ROCKSDB_PATH": str(state_dir / "collections"),
            **extra.get("indexer", {}),
        },
        state_dir,
    )
    validator = _service(
        "validator",
        base,
        {
            "RELAY_RESOLVER_ADDRESS": resolver.address,
            "RELAY_INDEXER_ADDRESS": indexer.address,
            "RELAY_VALIDATOR_FETCH_TIMEOUT_SECONDS": "100ms",
            "RELAY_VALIDATOR_RETRY_SECONDS": "50ms",
            **extra.get("validator", {}),
        },
        state_dir,
    )
    slurper = _service(
        "slurper",
        base,
        {
            "RELAY_SLURPER_HTTP_PORT": str(free_port()),
            "RELAY_INDEXER_ADDRESS": indexer.address,
            "RELAY_SLURPER_UPSTREAM_RELAY": "off",
            "RELAY_SLURPER_CURSOR_FLUSH_SECONDS": "200ms",
            "RELAY_SLURPER_BACKOFF_BASE_SECONDS": "50ms",
            "RELAY_SLURPER_BACKOFF_MAX_SECONDS": "500ms",
            "RELAY_SLURPER_PROBE_TIMEOUT_SECONDS": "5",
            **extra.get("slurper", {}),
        },
        state_dir,
    )
    pipeline = IngestPipeline(
        {"resolver": resolver, "indexer": indexer, "validator": validator, "slurper": slurper}
    )
    try:
        for service in pipeline.services.values():
            service.start()
        for service in pipeline.services.values():
            await service.wait_ready()
        yield pipeline
    finally:
        await pipeline.close()


@dataclass(frozen=True, slots=True)
class Verified:
    """One message of VERIFIED, as the tests compare it with the ledger."""

    stream_seq: int
    msg_id: str
    event: events_pb2.VerifiedEvent

    @property
    def derived(self) -> bool:
        """The relay's own #account (desynchronized / back), not an upstream event."""
        return self.msg_id.endswith(DERIVED_SUFFIX)


async def verified_count(js: JetStreamContext) -> int:
    try:
        return int((await js.stream_info(VERIFIED.name)).state.messages)
    except NotFoundError:
        return 0


class VerifiedReader:
    """Reads VERIFIED incrementally (each poll fetches only the messages added since the last)."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._next_seq = 1
        self.events: list[Verified] = []

    async def poll(self) -> list[Verified]:
        try:
            info = await self._js.stream_info(VERIFIED.name)
        except NotFoundError:
            return self.events
        for seq in range(max(self._next_seq, info.state.first_seq), info.state.last_seq + 1):
            msg = await self._js.get_msg(VERIFIED.name, seq)
            event = events_pb2.VerifiedEvent()
            event.ParseFromString(msg.data or b"")
            self.events.append(Verified(seq, (msg.headers or {}).get("Nats-Msg-Id", ""), event))
        self._next_seq = info.state.last_seq + 1
        return self.events

    async def upstream_count(self) -> int:
        """Verified upstream events so far (the relay's own #account events not counted)."""
        return sum(1 for v in await self.poll() if not v.derived)


async def raw_pending(js: JetStreamContext) -> int:
    """Frames in RAW_FRAMES not yet acked by the validator (a work queue)."""
    try:
        return int((await js.stream_info(RAW_FRAMES.name)).state.messages)
    except NotFoundError:
        return 0


async def read_verified(js: JetStreamContext) -> list[Verified]:
    """Every message of VERIFIED in stream order."""
    info = await js.stream_info(VERIFIED.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(VERIFIED.name, seq)
        event = events_pb2.VerifiedEvent()
        event.ParseFromString(msg.data or b"")
        out.append(Verified(seq, (msg.headers or {}).get("Nats-Msg-Id", ""), event))
    return out
