"""Indexer benchmarks. Each prints a markdown table.

`uv run --frozen python bench/bench_indexer.py [--dids N] [--ops N]`: collection-directory updates
from verified commit ops, and listReposByCollection page latency (in process, and over HTTP
through uvicorn + the XRPC app). A real RocksDB in a temp dir and a real Postgres (pgserver wheel)
for the HTTP app's stores.

`uv run --frozen python bench/bench_indexer.py --service [--rate 840] [--seconds 15] [--repeats 3]`:
the indexer process under the relay's load (`indexer_service_load`): CPU µs per verified event
applied and per `UpsertAccounts` row, min–max over the repeats. `--phases verified,upserts` runs
only those; `--profile FILE` runs the child under py-spy (on PATH; `uv tool install py-spy`),
writing collapsed stacks (sampling costs the child CPU too: it is for where, not how much).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from indexer_service_load import IndexerUnderLoad, PhaseResult
from relay_core.syntax import Did, Nsid
from relay_devstack.postgres import PostgresCluster
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.repo_store import RepoStore
from relay_indexer.verified_event import CommitEvent, OpAction, RecordOp
from relay_indexer.xrpc_app import create_xrpc_app
from relay_indexer.xrpc_server import serve_xrpc

COLLECTIONS = [
    Nsid(n)
    for n in (
        "app.bsky.feed.post",
        "app.bsky.feed.like",
        "app.bsky.graph.follow",
        "app.bsky.feed.repost",
        "com.example.fancy.thing",
    )
]


def make_events(rng: random.Random, n_dids: int, n_ops: int) -> list[CommitEvent]:
    dids = [Did(f"did:plc:{i:024x}".replace("0", "a")[:32]) for i in range(n_dids)]
    revs = dict.fromkeys(dids, 0)
    held: dict[tuple[Did, Nsid], int] = {}
    events = []
    for _ in range(n_ops):
        did, col = rng.choice(dids), rng.choice(COLLECTIONS)
        delete = held.get((did, col), 0) > 0 and rng.random() < 0.3
        held[(did, col)] = held.get((did, col), 0) + (-1 if delete else 1)
        revs[did] += 1
        events.append(
            CommitEvent(
                did=did,
                host="pds.bench",
                rev=f"3l{revs[did]:011d}",
                since="" if revs[did] == 1 else "x",
                ops=(RecordOp(OpAction.DELETE if delete else OpAction.CREATE, col),),
            )
        )
    return events


async def bench_updates(
    index: CollectionIndex, repos: RepoStore, events: list[CommitEvent], batch: int
) -> float:
    applier = EventApplier(index, repos)
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        await applier.apply(events[i : i + batch])
    return len(events) / (time.perf_counter() - start)


def page_latency_us(index: CollectionIndex, collection: Nsid, limit: int, pages: int) -> float:
    samples = []
    after = None
    for _ in range(pages):
        t = time.perf_counter()
        page = index.list_repos(collection, after=after, limit=limit)
        samples.append(time.perf_counter() - t)
        after = page.dids[-1] if page.more else None
    return statistics.median(samples) * 1e6


async def http_page_latency_ms(base_url: str, collection: Nsid, limit: int, pages: int) -> float:
    samples = []
    async with httpx.AsyncClient(base_url=base_url) as client:
        cursor = None
        for _ in range(pages):
            params = {"collection": collection, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
            t = time.perf_counter()
            r = await client.get("/xrpc/com.atproto.sync.listReposByCollection", params=params)
            samples.append(time.perf_counter() - t)
            cursor = r.json().get("cursor")
    return statistics.median(samples) * 1e3


async def run(args: argparse.Namespace, root: Path) -> list[tuple[str, str]]:
    cluster = PostgresCluster(root / "pg", database="bench", tuned_for_tests=True)
    cluster.start()
    try:
        dsn = cluster.dsn("bench")
        await apply_migrations(dsn)
        pool = await open_pool(dsn)
        index = CollectionIndex(root / "rocks")
        repos, hosts = RepoStore(pool), HostStore(pool)
        rows: list[tuple[str, str]] = []
        events = make_events(random.Random(7), args.dids, args.ops)
        for batch in (1, 100, 500):
            chunk = events[: args.ops // (10 if batch == 1 else 1)]
            fresh = CollectionIndex(root / f"rocks-{batch}")
            rate = await bench_updates(fresh, repos, chunk, batch)
            fresh.close()
            rows.append(
                (f"commit ops applied to RocksDB, batch {batch} ({len(chunk):,} ops)", f"{rate:,.0f} ops/s")
            )
        await bench_updates(index, repos, events, 500)
        sizes = {c: len(index.list_repos(c, after=None, limit=10**9).dids) for c in COLLECTIONS}
        big = max(sizes, key=lambda c: sizes[c])
        for limit in (100, 500, 2000):
            us = page_latency_us(index, big, limit, pages=50)
            rows.append(
                (f"list_repos page, limit {limit} ({sizes[big]:,} DIDs), in process", f"{us:,.0f} µs")
            )
        stop = asyncio.Event()
        app = create_xrpc_app(repos=repos, hosts=hosts, index=index, version="bench")
        server = asyncio.create_task(serve_xrpc(app, host="127.0.0.1", port=args.port, stop=stop))
        await asyncio.sleep(0.5)
        for limit in (100, 500, 2000):
            ms = await http_page_latency_ms(f"http://127.0.0.1:{args.port}", big, limit, pages=50)
            rows.append((f"listReposByCollection over HTTP, limit {limit}", f"{ms:,.2f} ms"))
        stop.set()
        await server
        index.close()
        await close_pool(pool)
        return rows
    finally:
        cluster.stop()


def _spread(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    return (
        f"{low:,.{digits}f}"
        if round(low, digits) == round(high, digits)
        else f"{low:,.{digits}f}–{high:,.{digits}f}"
    )


async def run_service(args: argparse.Namespace, root: Path) -> list[tuple[str, str]]:
    load = IndexerUnderLoad(root, hosts=args.hosts, accounts=args.accounts, profile=args.profile)
    await load.start()
    results: dict[str, list[PhaseResult]] = {}
    try:
        await load.warm_up()
        for _ in range(args.repeats):
            for phase in args.phases.split(","):
                seconds = args.seconds / 3 if phase == "idle" else args.seconds
                results.setdefault(phase, []).append(await load.phase(phase, rate=args.rate, seconds=seconds))
    finally:
        await load.stop()
    rows: list[tuple[str, str]] = []
    if idle := results.get("idle"):
        rows.append(
            (
                "idle indexer, CPU per second",
                f"{_spread([r.cpu_seconds / r.seconds * 1e3 for r in idle], 1)} ms",
            )
        )
    if verified := results.get("verified"):
        label = f"VERIFIED only, µs CPU per event ({verified[0].events:,} events at {args.rate:,.0f}/s)"
        rows.append((label, _spread([r.per(r.events) for r in verified])))
    if upserts := results.get("upserts"):
        label = f"UpsertAccounts only, µs CPU per call ({upserts[0].calls} calls, {upserts[0].rows:,} rows)"
        rows.append((label, _spread([r.per(r.calls) for r in upserts])))
        rows.append(("UpsertAccounts only, µs CPU per row", _spread([r.per(r.rows) for r in upserts])))
        rows.append(("UpsertAccounts only, µs CPU per event", _spread([r.per(r.events) for r in upserts])))
    if both := results.get("both"):
        rows.append(("both (as in the relay), µs CPU per event", _spread([r.per(r.events) for r in both])))
    for phase, found in results.items():
        if phase != "idle":
            cpu = _spread([r.per(r.events, postgres=True) for r in found])
            rows.append((f"Postgres during {phase}, µs CPU per event", cpu))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dids", type=int, default=20_000)
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--port", type=int, default=24720)
    parser.add_argument("--service", action="store_true", help="the indexer process under load")
    parser.add_argument("--rate", type=float, default=840.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--phases", default="idle,verified,upserts,both")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-indexer-"))
    try:
        rows = asyncio.run(run_service(args, root) if args.service else run(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("| indexer operation | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
