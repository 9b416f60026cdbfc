"""Firehose integration fixtures: a unique VERIFIED-shaped stream, a publisher, firehose servers.

The publisher plays the validator: it publishes ``VerifiedEvent`` protos whose ``frame`` is a real
``#commit`` (signed commit, CAR blocks) built with ``relay_core.builders``; the firehose servers are
the real ``FirehoseServer`` over real NATS JetStream, read by real ``websockets`` clients.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
import websockets
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from relay_core.builders import AccountBuilder
from relay_core.firehose.frames import Frame, decode_frame, encode_frame
from relay_firehose.hub import Hub, HubSettings
from relay_firehose.server import FirehoseServer
from relay_firehose.verified_log import VerifiedLog
from relay_proto.events.v1 import events_pb2
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import Retention, StreamDef

_FRAME_POOL_SIZE = 40


@dataclass
class Publisher:
    """Publishes verified events the way the validator does (core publish + flush, or acked)."""

    js: JetStreamContext
    nc: NatsClient
    stream: StreamDef
    accounts: list[AccountBuilder] = field(default_factory=list)
    frames: list[tuple[str, bytes]] = field(default_factory=list)
    upstream: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def subject(self, kind: str) -> str:
        return self.stream.subjects[0].removesuffix("*") + kind

    def commit_event(self, account: AccountBuilder | None = None) -> events_pb2.VerifiedEvent:
        if account is None:
            if not self.frames:
                self._fill_pool()
            did, frame = self.frames[next(self.upstream) % len(self.frames)]
        else:
            built = account.commit([account.post("hi")])
            did, frame = account.did, encode_frame("#commit", built.body)
        return events_pb2.VerifiedEvent(
            did=did, host="pds.test", upstream_seq=next(self.upstream), kind="commit", frame=frame
        )

    def _fill_pool(self) -> None:
        self.accounts = [AccountBuilder() for _ in range(4)]
        for i in range(_FRAME_POOL_SIZE):
            account = self.accounts[i % 4]
            built = account.commit([account.post(f"post {i}")])
            self.frames.append((account.did, encode_frame("#commit", built.body)))

    def account_event(
        self, account: AccountBuilder, *, active: bool, status: str | None
    ) -> events_pb2.VerifiedEvent:
        proto_status = {
            None: types_pb2.ACCOUNT_STATUS_ACTIVE,
            "takendown": types_pb2.ACCOUNT_STATUS_TAKENDOWN,
        }[status]
        return events_pb2.VerifiedEvent(
            did=account.did,
            host="pds.test",
            upstream_seq=next(self.upstream),
            kind="account",
            frame=encode_frame("#account", account.account_body(active=active, status=status)),
            account=events_pb2.AccountInfo(active=active, status=proto_status),
        )

    async def publish(self, event: events_pb2.VerifiedEvent) -> int:
        ack = await jsx.publish(self.js, self.subject(event.kind), event.SerializeToString())
        return int(ack.seq)

    async def publish_commits(self, n: int) -> int:
        """Publish ``n`` commits quickly; returns the last one's seq.

        All but the last go out as core publishes (no per-message ack); the last is acked, and
        one connection keeps order, so its seq is the stream's last.
        """
        subject = self.subject("commit")
        for _ in range(n - 1):
            await self.nc.publish(subject, self.commit_event().SerializeToString())
        return await self.publish(self.commit_event())


@pytest.fixture
async def verified_stream(
    jetstream: JetStreamContext, unique_name: Callable[[str], str]
) -> AsyncIterator[StreamDef]:
    name = unique_name("VERIFIED")
    stream = StreamDef(
        name=name,
        subjects=(f"{name.lower()}.*",),
        retention=Retention.LIMITS,
        description="test VERIFIED",
        max_age_seconds=3600.0,
        duplicate_window_seconds=60.0,
    )
    await jsx.ensure_streams(jetstream, [stream])
    yield stream
    await jetstream.delete_stream(name)


@pytest.fixture
def publisher(jetstream: JetStreamContext, nats_client: NatsClient, verified_stream: StreamDef) -> Publisher:
    return Publisher(js=jetstream, nc=nats_client, stream=verified_stream)


@dataclass
class RunningFirehose:
    server: FirehoseServer
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def hub(self) -> Hub:
        return self.server.hub

    async def shutdown(self) -> None:
        self.stop.set()
        async with asyncio.timeout(15):
            await self.task


FirehoseFactory = Callable[..., Awaitable[RunningFirehose]]


@pytest.fixture
async def firehose_factory(
    nats_client: NatsClient, jetstream: JetStreamContext, verified_stream: StreamDef
) -> AsyncIterator[FirehoseFactory]:
    running: list[RunningFirehose] = []

    async def start(settings: HubSettings | None = None, *, grace: float = 2.0) -> RunningFirehose:
        hub = Hub(VerifiedLog(nats_client, jetstream, verified_stream), settings or HubSettings())
        server = FirehoseServer(hub, host="127.0.0.1", port=0, shutdown_grace_seconds=grace)
        await server.start()
        stop = asyncio.Event()
        task = asyncio.create_task(server.run(stop))
        await hub.started.wait()
        fh = RunningFirehose(server, stop, task)
        running.append(fh)
        return fh

    yield start
    for fh in running:
        if not fh.task.done():
            await fh.shutdown()


def frames_of(messages: list[bytes]) -> list[Frame]:
    return [decode_frame(m) for m in messages]


def seqs_of(messages: list[bytes]) -> list[int]:
    return [int(f.body["seq"]) for f in frames_of(messages) if f.type != "#info" and not f.is_error]


async def receive(ws: object, n: int, within_seconds: float = 20.0) -> list[bytes]:
    """The next ``n`` binary messages of a websockets client connection."""

    assert isinstance(ws, websockets.ClientConnection)
    out: list[bytes] = []
    async with asyncio.timeout(within_seconds):
        while len(out) < n:
            message = await ws.recv()
            assert isinstance(message, bytes)
            out.append(message)
    return out


async def receive_until_seq(ws: object, last_seq: int, within_seconds: float = 30.0) -> list[bytes]:
    """Messages until one with ``seq >= last_seq`` arrives."""

    assert isinstance(ws, websockets.ClientConnection)
    out: list[bytes] = []
    async with asyncio.timeout(within_seconds):
        while True:
            message = await ws.recv()
            assert isinstance(message, bytes)
            out.append(message)
            frame = decode_frame(message)
            if not frame.is_error and frame.type != "#info" and int(frame.body["seq"]) >= last_seq:
                return out


async def publish_steadily(publisher: Publisher, *, total: int, per_second: float) -> int:
    """Publish ``total`` commits at about ``per_second`` in small bursts; returns the last seq."""
    burst = max(1, int(per_second / 100))
    last = 0
    sent = 0
    while sent < total:
        n = min(burst, total - sent)
        last = await publisher.publish_commits(n)
        sent += n
        await asyncio.sleep(n / per_second)
    return last
