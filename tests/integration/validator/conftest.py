"""Validator integration harness: real NATS JetStream, the real indexer servicer on real Postgres
(+ RocksDB), the real resolver servicer over the netsim PLC directory, all on loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_core.firehose.frames import encode_frame
from relay_core.syntax.did import Did
from relay_indexer import grpc_api as indexer_api
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host import HostLimits, HostUpsert
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_proto.events.v1 import events_pb2
from relay_resolver.resolver import CachePolicy as ResolverCachePolicy
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.jetstream import ensure_streams
from relay_runtime.streams import RAW_FRAMES, VERIFIED, partition_for_host, raw_frame_msg_id, raw_subject
from relay_validator.indexer_client import IndexerClient
from relay_validator.resolver_client import ResolverClient
from relay_validator.service import ValidatorPipeline
from relay_validator.validation import CachePolicy, Validation
from relay_validator.verified_publisher import VerifiedPublisher
from relay_validator.verify_pool import VerifyPool

from tests.fixtures.resolver import running_resolver
from tools.netsim.plc_directory import PlcDirectory, derive_account, running_plc_directory
from tools.netsim.repo import PreparedEvent, RevClock, Signer, SimRepo

HOST = "pds.test"
PARTITIONS = 8
SEED = "validator-it"


@dataclass
class Upstream:
    """One simulated PDS: its repos and its seq counter; publishes RawFrames like the slurper."""

    js: JetStreamContext
    repos: list[SimRepo]
    clock: RevClock = field(default_factory=RevClock)
    seq: int = 0

    async def send(
        self,
        event: PreparedEvent,
        *,
        mangle: Callable[[bytes], bytes] | None = None,
        traceparent: str | None = None,
    ) -> int:
        self.seq += 1
        frame = encode_frame(event.type, {**event.body, "seq": self.seq})
        if mangle is not None:
            frame = mangle(frame)
        raw = events_pb2.RawFrame(host=HOST, upstream_seq=self.seq, received_at_us=1, frame=frame)
        headers = {"Nats-Msg-Id": raw_frame_msg_id(HOST, self.seq)}
        if traceparent is not None:
            headers["traceparent"] = traceparent
        await self.js.publish(
            raw_subject(partition_for_host(HOST, PARTITIONS)), raw.SerializeToString(), headers=headers
        )
        return self.seq


@dataclass
class IndexerServer:
    """The real indexer servicer on a fixed loopback port, which a test can take down and back."""

    api: indexer_api.IndexerApi
    server: GrpcServer

    async def stop(self) -> None:
        await self.server.stop(0)

    async def restart(self) -> None:
        self.server = await start_indexer(self.api, self.server.port)


async def start_indexer(api: indexer_api.IndexerApi, port: int = 0) -> GrpcServer:
    server = GrpcServer(service="indexer", host="127.0.0.1", port=port)
    indexer_api.add_to(server, api)
    await server.start()
    return server


@dataclass
class Harness:
    nc: NatsClient
    js: JetStreamContext
    upstream: Upstream
    indexer_channel: grpc.aio.Channel
    resolver_channel: grpc.aio.Channel
    repos: RepoStore
    plc: PlcDirectory
    indexer: IndexerServer
    verifier: VerifyPool | None
    """Every test runs inline (None) and with verify workers: the outcomes must be the same."""

    def pipeline(self, *, batch_size: int = 16) -> ValidatorPipeline:
        """A fresh validator (empty caches), as after a restart."""
        validation = Validation(
            accounts=IndexerClient(self.indexer_channel, timeout_seconds=5.0, default_account_limit=100),
            identities=ResolverClient(self.resolver_channel, max_batch_dids=50, timeout_seconds=5.0),
            publisher=VerifiedPublisher(self.js, timeout_seconds=10.0),
            policy=CachePolicy(),
            verifier=self.verifier,
        )
        return ValidatorPipeline(
            self.nc,
            self.js,
            validation,
            (partition_for_host(HOST, PARTITIONS),),
            batch_size=batch_size,
            fetch_timeout_seconds=0.2,
            retry_seconds=0.05,
        )


def sim_repos(count: int) -> list[SimRepo]:
    repos = []
    for index in range(count):
        account = derive_account(SEED, index, (f"https://{HOST}",))
        repos.append(
            SimRepo(
                index=index,
                did=Did(account.did),
                handle=account.handle,
                signer=Signer(account.signing_key.to_bytes()),
                signing_key=account.signing_key.public_key.did_key(),
            )
        )
    return repos


async def _fresh_streams(js: JetStreamContext) -> None:
    for stream in (RAW_FRAMES, VERIFIED):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream.name)
    # The production byte caps exceed a test server's disk; the rest of each definition is kept.
    await ensure_streams(js, [replace(s, max_bytes=256 * 1024**2) for s in (RAW_FRAMES, VERIFIED)])


@pytest.fixture(params=[0, 2], ids=["inline", "verify-workers"])
def verifier(request: pytest.FixtureRequest) -> Iterator[VerifyPool | None]:
    """No pool (judge verifies inline), or two workers that take and split even these small
    batches."""
    workers: int = request.param
    if not workers:
        yield None
        return
    pool = VerifyPool(workers, min_batch=1, min_chunk=2)
    pool.start()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
async def harness(
    nats_client: NatsClient,
    jetstream: JetStreamContext,
    postgres_dsn: str,
    tmp_path: Path,
    verifier: VerifyPool | None,
) -> AsyncIterator[Harness]:
    await _fresh_streams(jetstream)
    await apply_migrations(postgres_dsn)
    pool = await open_pool(postgres_dsn, max_size=4)
    index = CollectionIndex(tmp_path / "collections")
    repos, hosts = RepoStore(pool), HostStore(pool)
    await hosts.upsert_host(HostUpsert(hostname=HOST, limits=HostLimits(account_limit=1000)))
    indexer = IndexerServer(
        api := indexer_api.IndexerApi(
            repos=repos,
            hosts=hosts,
            policy=PolicyStore(pool),
            index=index,
            applier=EventApplier(index, repos),
        ),
        await start_indexer(api),
    )
    directory = PlcDirectory(SEED, (f"https://{HOST}",))
    directory.add_accounts(6)
    indexer_channel = grpc.aio.insecure_channel(f"127.0.0.1:{indexer.server.port}")
    try:
        async with (
            running_plc_directory(directory) as plc_url,
            running_resolver(plc_url, policy=ResolverCachePolicy(max_entries=1000)) as resolver,
        ):
            yield Harness(
                nats_client,
                jetstream,
                Upstream(jetstream, sim_repos(6)),
                indexer_channel,
                resolver.channel,
                repos,
                directory,
                indexer,
                verifier,
            )
    finally:
        await indexer_channel.close()
        await indexer.stop()
        index.close()
        await close_pool(pool)


async def wait_for(predicate: Callable[[], object], limit_seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
