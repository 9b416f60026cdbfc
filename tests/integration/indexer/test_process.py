"""`python -m relay_indexer` as a real process against its own nats-server and a fresh Postgres
database: it applies migrations, becomes ready, serves XRPC and gRPC, consumes VERIFIED, resumes
a backfill job a previous process left running, and exits cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import grpc
import httpx
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from relay_devstack.nats import NatsServer
from relay_indexer import grpc_api
from relay_indexer.backfill_job import BackfillKind
from relay_indexer.backfill_store import BackfillStore
from relay_indexer.migrations import apply_migrations, migration_names
from relay_proto.events.v1 import events_pb2
from relay_proto.indexer.v1 import indexer_pb2 as pb, indexer_pb2_grpc
from relay_proto.types.v1 import types_pb2
from relay_runtime import jetstream as jsx
from relay_runtime.streams import verified_subject

from tests.helpers.ports import free_port
from tests.integration.indexer.fake_upstream import CUSTOM, LIKE, FakeUpstream, serving

pytestmark = pytest.mark.integration
DID = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[str]:
    """A nats-server of this test alone: the process creates the real `VERIFIED` stream."""
    server = NatsServer(tmp_path / "nats", client_port=0, monitor_port=0, log_path=tmp_path / "nats.log")
    endpoints = server.start()
    try:
        yield endpoints.client_url
    finally:
        server.stop()


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _wait_ready(ops: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 40
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert proc.returncode is None, _tail(log)
            try:
                if (await client.get(f"http://127.0.0.1:{ops}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("indexer never became ready:\n" + _tail(log))


async def test_indexer_process_lifecycle(own_nats: str, postgres_dsn: str, tmp_path: Path) -> None:
    grpc_port, ops_port, http_port = free_port(), free_port(), free_port()
    async with serving(FakeUpstream(n_dids=1500)) as upstream:
        # A previous process started an import and died: the job row is left `running`.
        await apply_migrations(postgres_dsn)
        pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
        assert pool is not None
        job = await BackfillStore(pool).create_job(
            BackfillKind.IMPORT, source=upstream.base_url, hosts=(), items=[(LIKE, 0)]
        )
        await pool.close()

        log = tmp_path / "indexer.log"
        env = {
            **os.environ,
            "DATABASE_URL": postgres_dsn,
            "NATS_URL": own_nats,
            "RELAY_BIND_HOST": "127.0.0.1",
            "RELAY_INDEXER_GRPC_PORT": str(grpc_port),
            "RELAY_INDEXER_OPS_PORT": str(ops_port),
            "RELAY_INDEXER_HTTP_PORT": str(http_port),
            "RELAY_INDEXER_ROCKSDB_PATH": str(tmp_path / "rocks"),
            "RELAY_INDEXER_BACKFILL_REQUEST_INTERVAL_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
        out = log.open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay_indexer", env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            await _wait_ready(ops_port, proc, log)
            await _check_serving(own_nats, grpc_port, http_port, job.id, upstream)
            conn = await asyncpg.connect(postgres_dsn)
            applied = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
            await conn.close()
            assert [r["name"] for r in applied] == migration_names()

            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            out.close()
    text = _tail(log)
    assert '"shutting down"' in text and '"stopped"' in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


async def _check_serving(
    nats_url: str, grpc_port: int, http_port: int, job_id: int, upstream: FakeUpstream
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
        assert (await http.get("/xrpc/_health")).status_code == 200

        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            # gRPC health follows readiness on the runtime's watcher tick (about a second).
            deadline = time.monotonic() + 10
            check = health_pb2.HealthCheckRequest(service=grpc_api.SERVICE_NAME)
            while (await health.Check(check, timeout=5)).status != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, "gRPC health never SERVING"
                await asyncio.sleep(0.1)

            # The job left running was resumed at startup; follow it to the end.
            stub = indexer_pb2_grpc.IndexerServiceStub(channel)
            request = pb.GetBackfillProgressRequest(job_id=str(job_id), follow=True)
            final = [p async for p in stub.GetBackfillProgress(request, timeout=30)][-1]
            assert final.state == types_pb2.BACKFILL_STATE_DONE and final.repos_done == 750

        # VERIFIED is consumed: a first commit lists the DID under the custom collection.
        client = await nats.connect(nats_url)
        event = events_pb2.VerifiedEvent(
            did=DID,
            host="pds.test",
            kind="commit",
            rev="3l0000000000a",
            commit=events_pb2.CommitInfo(
                ops=[events_pb2.RepoOp(action="create", path=f"{CUSTOM}/3jzfcijpj2z2a")]
            ),
        )
        await jsx.publish(
            client.jetstream(), verified_subject("commit"), event.SerializeToString(), msg_id="t1"
        )
        await client.drain()
        deadline = time.monotonic() + 15
        while True:
            page = await http.get(
                "/xrpc/com.atproto.sync.listReposByCollection", params={"collection": CUSTOM}
            )
            if [r["did"] for r in page.json()["repos"]] == [DID]:
                break
            assert time.monotonic() < deadline, page.text
            await asyncio.sleep(0.1)
        likes = await http.get(
            "/xrpc/com.atproto.sync.listReposByCollection", params={"collection": LIKE, "limit": 1000}
        )
        assert len(likes.json()["repos"]) == 750 and "cursor" not in likes.json()
