"""`python -m tools.netsim`: N simulated PDS hosts over P processes, a PLC directory, a report.

The parent process runs the PLC directory; each worker process owns the hosts `i` with
`i % P == worker` and `1/P` of the event rate. Start-up is a handshake over a pipe, because every
account's DID depends on its host's URL (the PDS endpoint is part of the did:plc genesis
operation): workers open their listeners and report ports; the parent derives every account for
the full endpoint list, serves them, and sends the DIDs back; everyone starts emitting together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from tools.netsim.group import HostGroup
from tools.netsim.ledger import Tally
from tools.netsim.plc_directory import PlcDirectory, running_plc_directory
from tools.netsim.workload import Workload

__all__ = ["HttpUpdater", "Options", "main", "parse_args"]


@dataclass(frozen=True, slots=True)
class Options:
    hosts: int
    accounts_per_host: int
    rate: float
    broken_ratio: float
    duration_seconds: float
    seed: str
    report: Path
    ledger: Path | None
    processes: int
    plc_port: int
    backlog_frames: int
    linger_seconds: float
    prepare: bool = False
    """Make and sign every frame before emission starts (see `Workload.prepare`)."""


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class HttpUpdater:
    """Writes identity changes to the PLC directory's `/_sim/update` route (workers' side)."""

    def __init__(self, client: httpx.AsyncClient, plc_url: str) -> None:
        self.client = client
        self.plc_url = plc_url

    async def update(self, did: str, *, handle: str | None = None, signing_key: str | None = None) -> None:
        body = {k: v for k, v in (("handle", handle), ("signing_key", signing_key)) if v is not None}
        response = await self.client.post(f"{self.plc_url}/_sim/update/{did}", json=body)
        response.raise_for_status()


async def _worker_main(worker: int, opts: Options, conn: Connection) -> None:
    rss_start = _rss_mib()
    indexes = range(worker, opts.hosts, opts.processes)
    ledger_path = None if opts.ledger is None else opts.ledger.with_name(f"{opts.ledger.name}.w{worker}")
    ledger_out = None if ledger_path is None else ledger_path.open("w")
    group = HostGroup(
        indexes,
        opts.hosts,
        seed=opts.seed,
        backlog_frames=opts.backlog_frames,
        ledger_out=ledger_out,
        keep_ledger=False,
        clock_id=worker,
    )
    await group.start()
    rss_listening = _rss_mib()
    conn.send(("ports", group.ports))
    dids, plc_url = await asyncio.to_thread(conn.recv)
    group.add_accounts(dids)
    rss_accounts = _rss_mib()
    async with httpx.AsyncClient(timeout=10) as client:
        workload = Workload(
            group,
            HttpUpdater(client, plc_url),
            rate=opts.rate / opts.processes,
            broken_ratio=opts.broken_ratio,
            seed=f"{opts.seed}/w{worker}",
        )
        # A few more than the run needs: past the prepared frames the workload makes them live.
        frames = int(workload.rate * opts.duration_seconds * 1.02) + 8
        prepare_cpu = workload.prepare(frames) if opts.prepare and frames > 8 else 0.0
        conn.send(("ready", None))
        await asyncio.to_thread(conn.recv)
        result = await workload.run(opts.duration_seconds)
        rss_end = _rss_mib()
        if opts.linger_seconds > 0:
            await asyncio.sleep(opts.linger_seconds)
    await group.stop()
    if ledger_out is not None:
        ledger_out.close()
    conn.send(
        (
            "done",
            {
                "worker": worker,
                "hosts": len(indexes),
                "events": result.events,
                "elapsed_seconds": result.elapsed_seconds,
                "cpu_seconds": result.cpu_seconds,
                "prepare_cpu_seconds": prepare_cpu,
                "rss_mib": {
                    "start": rss_start,
                    "listening": rss_listening,
                    "accounts": rss_accounts,
                    "end": rss_end,
                },
                "tally": group.tally.to_json(),
            },
        )
    )


def _worker_entry(worker: int, opts: Options, conn: Connection) -> None:
    asyncio.run(_worker_main(worker, opts, conn))


async def _recv_all(conns: Sequence[Connection], kind: str) -> list[Any]:
    out = []
    for conn in conns:
        got, payload = await asyncio.to_thread(conn.recv)
        if got != kind:
            raise RuntimeError(f"worker sent {got!r}, expected {kind!r}")
        out.append(payload)
    return out


async def run(opts: Options) -> dict[str, Any]:
    """Run the whole simulation and return the report (also written to `opts.report`)."""
    ctx = multiprocessing.get_context("spawn")
    pipes = [ctx.Pipe() for _ in range(opts.processes)]
    procs = [
        ctx.Process(target=_worker_entry, args=(w, opts, child), daemon=True)
        for w, (_, child) in enumerate(pipes)
    ]
    for proc in procs:
        proc.start()
    conns = [parent for parent, _ in pipes]
    try:
        ports: dict[int, int] = {}
        for part in await _recv_all(conns, "ports"):
            ports.update(part)
        endpoints = [f"http://localhost:{ports[i]}" for i in range(opts.hosts)]
        setup_start = time.monotonic()
        directory = PlcDirectory(opts.seed, endpoints)
        dids = directory.add_accounts(opts.hosts * opts.accounts_per_host)
        derive_seconds = time.monotonic() - setup_start
        async with running_plc_directory(directory, port=opts.plc_port) as plc_url:
            print(
                json.dumps(
                    {"event": "ready", "plc_url": plc_url, "hosts": endpoints[:5], "host_count": opts.hosts}
                ),
                flush=True,
            )
            for conn in conns:
                conn.send((dids, plc_url))
            await _recv_all(conns, "ready")
            for conn in conns:
                conn.send("go")
            workers = await _recv_all(conns, "done")
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    report = _report(opts, workers, endpoints, plc_url, derive_seconds)
    opts.report.write_text(json.dumps(report, indent=2) + "\n")
    if opts.ledger is not None:
        with opts.ledger.open("w") as out:
            for w in range(opts.processes):
                part = opts.ledger.with_name(f"{opts.ledger.name}.w{w}")
                out.write(part.read_text())
                part.unlink()
    return report


def _report(
    opts: Options, workers: list[dict[str, Any]], endpoints: list[str], plc_url: str, derive_seconds: float
) -> dict[str, Any]:
    tally = Tally()
    for worker in workers:
        tally.merge(Tally.from_json(worker.pop("tally")))
    elapsed = max(w["elapsed_seconds"] for w in workers)
    cpu = sum(w["cpu_seconds"] for w in workers)
    listening = sum(w["rss_mib"]["listening"] - w["rss_mib"]["start"] for w in workers)
    return {
        "options": _options_json(opts),
        "plc_url": plc_url,
        "hosts": endpoints,
        "events": tally.total,
        "rate_target": opts.rate,
        "rate_achieved": round(tally.total / elapsed, 1) if elapsed else 0.0,
        "cpu_us_per_event": round(cpu / tally.total * 1e6, 1) if tally.total else None,
        "listener_kib_per_host": round(listening * 1024 / opts.hosts, 1),
        "account_derive_seconds": round(derive_seconds, 2),
        "workers": workers,
        "sent": tally.to_json(),
    }


def _options_json(opts: Options) -> dict[str, Any]:
    return {
        name: (str(value) if isinstance(value, Path) else value)
        for name in Options.__dataclass_fields__
        for value in (getattr(opts, name),)
    }


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tools.netsim", description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--accounts-per-host", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="total events/s over all hosts (0 = none)")
    parser.add_argument("--broken-ratio", type=float, default=0.0, help="fraction of broken events, 0..1")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of emission")
    parser.add_argument("--seed", default="netsim")
    parser.add_argument("--report", type=Path, default=Path("netsim-report.json"))
    parser.add_argument("--ledger", type=Path, default=None, help="also write one JSON line per event here")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--plc-port", type=int, default=0, help="PLC directory port (0 = any free port)")
    parser.add_argument("--backlog", type=int, default=1000, help="replay window per host, in frames")
    parser.add_argument("--linger", type=float, default=0.0, help="keep hosts up this long after emitting")
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="make and sign every frame before emitting (emission then costs little more than the sends)",
    )
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.processes < 1 or args.processes > args.hosts:
        parser.error("need 1 <= --processes <= --hosts")
    if not 0.0 <= args.broken_ratio <= 1.0:
        parser.error("--broken-ratio must be within 0..1")
    if args.duration <= 0 or args.duration > 3600:
        parser.error("--duration must be within (0, 3600] seconds")
    return Options(
        hosts=args.hosts,
        accounts_per_host=args.accounts_per_host,
        rate=args.rate,
        broken_ratio=args.broken_ratio,
        duration_seconds=args.duration,
        seed=args.seed,
        report=args.report,
        ledger=args.ledger,
        processes=args.processes,
        plc_port=args.plc_port,
        backlog_frames=args.backlog,
        linger_seconds=args.linger,
        prepare=args.prepare,
    )


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_args(argv)
    report = asyncio.run(run(opts))
    summary = {
        k: report[k]
        for k in ("events", "rate_target", "rate_achieved", "cpu_us_per_event", "listener_kib_per_host")
    }
    print(
        json.dumps(
            {"event": "done", **summary, "broken": report["sent"]["broken"], "report": str(opts.report)}
        ),
        flush=True,
    )
