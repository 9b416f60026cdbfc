"""Backfill import benchmark: DIDs/min from a fake relay's listReposByCollection into RocksDB.

The fake relay runs in a subprocess (`--serve`, uvicorn + Starlette on loopback, pages
precomputed so it costs little CPU); the indexer side is the real `BackfillManager` with a real
Postgres (pgserver wheel) for job progress and a real RocksDB in a temp dir: fetch pages (limit
1000), decode, `import_listing` (synced WriteBatch), commit the cursor, in a pipeline.

Run: `uv run --frozen python bench/bench_backfill.py [--dids 500000] [--collections 2]`.
Prints a markdown table. Every DID is verified listed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
from relay_core.syntax import Did, Nsid
from relay_devstack.postgres import PostgresCluster
from relay_indexer.backfill import BackfillManager, BackfillSettings
from relay_indexer.backfill_job import JobState
from relay_indexer.backfill_store import BackfillStore
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.database import close_pool, open_pool
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.repo_store import RepoStore
from relay_indexer.retry_policy import RetryPolicy
from relay_indexer.xrpc_fetcher import XrpcFetcher

NSIDS = ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow", "com.example.fancy.thing"]
PAGE = 1000
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def did(i: int) -> str:
    digits = []
    for _ in range(24):
        i, r = divmod(i, 32)
        digits.append(_B32[r])
    return "did:plc:" + "".join(reversed(digits))


def serve(port: int, n_dids: int, n_collections: int) -> None:
    """The fake relay: every collection lists all `n_dids` DIDs, pages precomputed as bytes."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    dids = sorted(did(i) for i in range(n_dids))
    pages: dict[tuple[str, str], bytes] = {}
    for collection in NSIDS[:n_collections]:
        cursor = ""
        for start in range(0, n_dids, PAGE):
            chunk = dids[start : start + PAGE]
            body: dict[str, object] = {"repos": [{"did": d} for d in chunk]}
            if start + PAGE < n_dids:
                body["cursor"] = chunk[-1]
            pages[(collection, cursor)] = json.dumps(body).encode()
            cursor = chunk[-1]

    async def list_by_collection(request: Request) -> Response:
        key = (request.query_params["collection"], request.query_params.get("cursor", ""))
        return Response(pages[key], media_type="application/json")

    app = Starlette(routes=[Route("/xrpc/com.atproto.sync.listReposByCollection", list_by_collection)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_listening(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("fake relay did not start")


async def run_import(
    dsn: str, root: Path, base_url: str, n_dids: int, n_collections: int
) -> dict[str, float]:
    await apply_migrations(dsn)
    pool = await open_pool(dsn, max_size=4)
    index = CollectionIndex(root / "rocks")
    client = httpx.AsyncClient(timeout=30.0)
    fetcher = XrpcFetcher(client, policy=RetryPolicy(), interval_seconds=0.0, per_origin_concurrency=4)
    manager = BackfillManager(
        store=BackfillStore(pool),
        index=index,
        fetcher=fetcher,
        repos=RepoStore(pool),
        hosts=HostStore(pool),
        settings=BackfillSettings(page_limit=PAGE, prefetch_pages=4, import_concurrency=2),
    )
    try:
        began = time.perf_counter()
        job = (await manager.start_import(base_url, NSIDS[:n_collections])).job
        peak = 0.0
        while (progress := await manager.progress(job.id)).job.state is JobState.RUNNING:
            peak = max(peak, progress.dids_per_second)
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - began
        assert progress.job.state is JobState.DONE, progress.last_error
        total = progress.dids_done
        assert total == n_dids * n_collections
        for collection in NSIDS[:n_collections]:
            page = index.list_repos(Nsid(collection), after=None, limit=n_dids + 1)
            assert len(page.dids) == n_dids
        # Idempotence costs: the same listing again writes nothing.
        again = time.perf_counter()
        sample = [Did(did(i)) for i in range(PAGE)]
        for _ in range(100):
            index.import_listing(Nsid(NSIDS[0]), sample)
        reimport_us = (time.perf_counter() - again) / (100 * PAGE) * 1e6
        return {
            "dids": total,
            "seconds": elapsed,
            "per_min": total / elapsed * 60,
            "peak_per_min": peak * 60,
            "reimport_us": reimport_us,
        }
    finally:
        await manager.close()
        await client.aclose()
        index.close()
        await close_pool(pool)


def bench_write_only(root: Path, n_dids: int) -> float:
    """`import_listing` alone (no HTTP, no Postgres): µs per DID for fresh entries."""
    index = CollectionIndex(root / "write-only")
    dids = sorted(Did(did(i)) for i in range(n_dids))
    began = time.perf_counter()
    for start in range(0, n_dids, PAGE):
        index.import_listing(Nsid(NSIDS[0]), dids[start : start + PAGE])
    elapsed = time.perf_counter() - began
    index.close()
    return elapsed / n_dids * 1e6


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        str(port),
        "--dids",
        str(args.dids),
        "--collections",
        str(args.collections),
    )
    cluster = PostgresCluster(root / "pg", database="bench", tuned_for_tests=True)
    try:
        cluster.start()
        await _wait_listening(f"http://127.0.0.1:{port}/")
        result = await run_import(
            cluster.dsn("bench"), root, f"http://127.0.0.1:{port}", args.dids, args.collections
        )
        write_us = bench_write_only(root, min(args.dids, 200_000))
    finally:
        server.terminate()
        await server.wait()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    print("| backfill import | result |")
    print("|---|---|")
    print(
        f"| import over HTTP, {args.collections} NSIDs x {args.dids:,} DIDs, pages of {PAGE} "
        f"({result['dids']:,.0f} DIDs in {result['seconds']:.1f} s) | {result['per_min']:,.0f} DIDs/min |"
    )
    print(f"| peak 10 s window rate reported by progress | {result['peak_per_min']:,.0f} DIDs/min |")
    print(f"| `import_listing` alone, new entries, synced batch of {PAGE} | {write_us:.2f} µs/DID |")
    reimport = result["reimport_us"]
    print(f"| `import_listing` of an already imported page (idempotent, no writes) | {reimport:.2f} µs/DID |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dids", type=int, default=500_000)
    parser.add_argument("--collections", type=int, default=2)
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.dids, arguments.collections)
    else:
        asyncio.run(main(arguments))
