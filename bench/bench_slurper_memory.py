"""RSS per idle upstream TLS WebSocket in the slurper, at 3,000 hosts on loopback.

Run: `uv run --frozen python bench/bench_slurper_memory.py [--hosts 3000]`.

A child process serves N TLS WebSocket listeners (one port each, like N PDS hosts) with a
throwaway CA made here; this process builds the slurper's real connection stack — the shared
SSLContext (system store + that CA, as ``RELAY_SLURPER_EXTRA_CA_FILE`` does in dev mode), one
:class:`Subscription` per host with its rate limiter and cursor tracker, and a real
:class:`FramePublisher` on a real JetStream — opens every connection, lets them idle, and prints
(RSS after − RSS before) / N. Target: ≤ 64 KiB per connection (zlay ~0.45 MiB per host thread;
PERF-NOTES floor ~59 KiB per TLS client connection with default buffers). Bounded: connects at
most N hosts, idles 3 s, then stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import ipaddress
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write_ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench throwaway CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


async def _serve(hosts: int, cert: str, key: str, ports_file: str, seconds: float) -> None:
    """Child process: N TLS WebSocket listeners that accept a subscriber and stay quiet."""
    import ssl

    from websockets.asyncio.server import ServerConnection, serve

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def handler(connection: ServerConnection) -> None:
        await connection.wait_closed()

    servers = []
    for _ in range(hosts):
        server = await serve(
            handler, "127.0.0.1", 0, ssl=context, compression=None, ping_interval=None, max_size=65536
        )
        servers.append(server)
    Path(ports_file).write_text(  # noqa: ASYNC240 - once, before serving
        "\n".join(str(next(iter(s.sockets)).getsockname()[1]) for s in servers)
    )
    await asyncio.sleep(seconds)


async def _measure(
    hosts: int, ca: Path, ports: list[int], *, default_buffers: bool, read_buffer: int
) -> dict[str, float]:
    from relay_devstack.nats import NatsServer
    from relay_runtime.jetstream import connect
    from relay_runtime.streams import DEFAULT_RAW_PARTITIONS
    from relay_slurper.backoff import BackoffPolicy
    from relay_slurper.frame_publisher import FramePublisher
    from relay_slurper.host_address import parse_host
    from relay_slurper.host_store import HostStatus
    from relay_slurper.rate_limits import RateLimiter, RateLimits
    from relay_slurper.subscription import Subscription, SubscriptionSettings
    from relay_slurper.tls import client_ssl_context, limit_tls_read_buffer

    statuses: list[tuple[str, HostStatus, str]] = []

    async def on_status(hostname: str, status: HostStatus, reason: str) -> None:
        statuses.append((hostname, status, reason))

    with tempfile.TemporaryDirectory() as nats_dir:
        nats_server = NatsServer(
            Path(nats_dir) / "store", client_port=0, monitor_port=0, log_path=Path(nats_dir) / "log"
        )
        endpoints = nats_server.start()
        nc = await connect(endpoints.client_url, name="bench-slurper")
        try:
            publisher = FramePublisher(
                nc.jetstream(),
                partitions=DEFAULT_RAW_PARTITIONS,
                max_in_flight=4096,
                ack_timeout_seconds=10.0,
            )
            if not default_buffers:
                limit_tls_read_buffer(read_buffer)  # what Slurper() does at construction
            settings = SubscriptionSettings(
                ssl_context=client_ssl_context(str(ca)),
                dev_mode=True,
                max_frame_bytes=5_000_000,
                ping_interval_seconds=30.0,
                open_timeout_seconds=60.0,
                backoff=BackoffPolicy(),
                ack_timeout_seconds=10.0,
            )
            limits = RateLimits(per_second=50, per_hour=2600, per_day=21000)
            process = psutil.Process()
            gc.collect()
            await asyncio.sleep(0.5)
            before = process.memory_info().rss
            subscriptions = [
                Subscription(
                    parse_host(f"localhost:{port}", dev_mode=True, tls=True),
                    cursor=None,
                    limiter=RateLimiter(limits),
                    publisher=publisher,
                    settings=settings,
                    on_status=on_status,
                )
                for port in ports[:hosts]
            ]
            tasks: list[asyncio.Task[None]] = []
            started = time.perf_counter()
            for i in range(0, len(subscriptions), 100):  # a realistic ramp, not a SYN flood
                tasks.extend(asyncio.create_task(s.run()) for s in subscriptions[i : i + 100])
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + 120
            while sum(s.state().connected for s in subscriptions) < len(subscriptions):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            connect_seconds = time.perf_counter() - started
            connected = sum(s.state().connected for s in subscriptions)
            await asyncio.sleep(3.0)  # idle: keepalive tasks settle, nothing is read
            gc.collect()
            after = process.memory_info().rss
            for s in subscriptions:
                s.stop()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        finally:
            await nc.close()
            nats_server.stop()
    return {
        "hosts": hosts,
        "connected": connected,
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "kib_per_connection": (after - before) / 1024 / max(connected, 1),
        "connect_seconds": connect_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3000)
    parser.add_argument("--default-buffers", action="store_true", help="keep asyncio's 256 KiB TLS buffer")
    parser.add_argument("--read-buffer", type=int, default=4096, help="TLS read buffer bytes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--ports-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.hosts, args.cert, args.key, args.ports_file, seconds=300))
        return
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = _write_ca_and_cert(Path(tmp))
        ports_file = Path(tmp) / "ports"
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--hosts",
                str(args.hosts),
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--ports-file",
                str(ports_file),
            ]
        )
        try:
            deadline = time.monotonic() + 120
            while not ports_file.exists() or len(ports_file.read_text().split()) < args.hosts:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("listener process failed to start")
                time.sleep(0.2)
            ports = [int(p) for p in ports_file.read_text().split()]
            result = asyncio.run(
                _measure(
                    args.hosts, ca, ports, default_buffers=args.default_buffers, read_buffer=args.read_buffer
                )
            )
        finally:
            child.terminate()
            child.wait(30)
    print("| hosts | connected | RSS before | RSS after | KiB per idle TLS connection | connect time |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {result['hosts']} | {result['connected']} | {result['rss_before_mib']:.1f} MiB | "
        f"{result['rss_after_mib']:.1f} MiB | {result['kib_per_connection']:.1f} | "
        f"{result['connect_seconds']:.1f} s |"
    )


if __name__ == "__main__":
    main()
