"""Admin integration fixtures: admin's real servicer behind its auth interceptor on a real port,
in front of the peers' real servicers, each on its own real port: the indexer over a real
Postgres (its own database per test), an in-process slurper over JetStream, the validator's
servicer over a (not consuming) pipeline, and a running firehose replica (hub + WebSocket
server) over the real VERIFIED stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from relay_admin import grpc_api as admin_grpc
from relay_admin.account_event import JetStreamAnnouncer
from relay_admin.accounts import AccountOperations
from relay_admin.auth import AuthInterceptor, TokenSet
from relay_admin.backfill import BackfillOperations
from relay_admin.hosts import HostOperations
from relay_admin.peers import Peers
from relay_admin.stats import StatsOperations
from relay_firehose import grpc_api as firehose_grpc
from relay_firehose.hub import Hub, HubSettings
from relay_firehose.server import FirehoseServer
from relay_firehose.verified_log import VerifiedLog
from relay_indexer import grpc_api as indexer_grpc
from relay_indexer.backfill_setup import open_backfill
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.config import IndexerConfig
from relay_indexer.database import close_pool, open_pool
from relay_indexer.event_applier import EventApplier
from relay_indexer.host_store import HostStore
from relay_indexer.migrations import apply_migrations
from relay_indexer.policy_store import PolicyStore
from relay_indexer.repo_store import RepoStore
from relay_proto.admin.v1 import admin_pb2_grpc
from relay_proto.firehose.v1 import firehose_pb2_grpc
from relay_proto.indexer.v1 import indexer_pb2_grpc
from relay_proto.slurper.v1 import slurper_pb2_grpc
from relay_proto.validator.v1 import validator_pb2_grpc
from relay_runtime.config import RuntimeConfig
from relay_runtime.grpc_server import GrpcServer, open_channel
from relay_runtime.jetstream import ensure_streams
from relay_runtime.streams import RAW_FRAMES, VERIFIED
from relay_slurper import grpc_api as slurper_grpc
from relay_slurper.config import SlurperConfig
from relay_slurper.indexer_client import IndexerHostStore
from relay_slurper.slurper import Slurper
from relay_validator import grpc_api as validator_grpc
from relay_validator.indexer_client import IndexerClient
from relay_validator.resolver_client import ResolverClient
from relay_validator.service import ValidatorPipeline
from relay_validator.validation import CachePolicy, Validation
from relay_validator.verified_publisher import VerifiedPublisher

from tests.helpers.ports import free_port

TOKEN = "admin-test-token-0123456789"
OTHER_TOKEN = "admin-rotated-token-abcdefghij"


@dataclass
class Relay:
    """What a test reaches: admin's stub (with and without a token) and the peers' state."""

    admin_port: int
    admin: admin_pb2_grpc.AdminServiceStub
    channel: grpc.aio.Channel
    js: JetStreamContext
    hosts: HostStore
    policy: PolicyStore
    repos: RepoStore
    slurper: Slurper
    firehose_url: str
    hub: Hub

    metadata = (("authorization", f"Bearer {TOKEN}"),)


async def _serve(register: Callable[..., None], servicer: object, name: str, **kw: Any) -> GrpcServer:
    server = GrpcServer(service=kw.pop("service", "test"), host="127.0.0.1", port=0, **kw)
    server.add_service(register, servicer, name)
    await server.start()
    await server.set_serving(True)
    return server


@contextlib.asynccontextmanager
async def running_admin(
    js: JetStreamContext, addresses: dict[str, str], *, timeout_seconds: float = 5.0
) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """Admin wired as main.py wires it, against ``addresses``; yields its server and a channel."""
    channels = {peer: open_channel(address) for peer, address in addresses.items()}
    peers = Peers(channels, addresses, timeout_seconds=timeout_seconds)
    api = admin_grpc.AdminApi(
        hosts=HostOperations(peers, dev_mode=True),
        accounts=AccountOperations(peers, JetStreamAnnouncer(js)),
        backfill=BackfillOperations(peers, dev_mode=True),
        stats=StatsOperations(peers),
    )
    server = await _serve(
        admin_pb2_grpc.add_AdminServiceServicer_to_server,
        api,
        admin_grpc.SERVICE_NAME,
        service="admin",
        interceptors=[AuthInterceptor(TokenSet([TOKEN, OTHER_TOKEN]))],
    )
    channel = open_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, channel
    finally:
        await channel.close()
        await server.stop(0)
        for peer_channel in channels.values():
            await peer_channel.close()


@pytest.fixture
async def streams(jetstream: JetStreamContext) -> JetStreamContext:
    """RAW_FRAMES and VERIFIED recreated empty (tests in one session share the NATS server)."""
    for stream in (RAW_FRAMES, VERIFIED):
        with contextlib.suppress(NotFoundError):
            await jetstream.delete_stream(stream.name)
    await ensure_streams(jetstream, [RAW_FRAMES, VERIFIED])
    return jetstream


@pytest.fixture
async def relay(
    postgres_dsn: str, tmp_path: Path, nats_server: str, nats_client: NatsClient, streams: JetStreamContext
) -> AsyncIterator[Relay]:
    await apply_migrations(postgres_dsn)
    pool = await open_pool(postgres_dsn, max_size=4)
    index = CollectionIndex(tmp_path / "collections")
    repos, hosts, policy = RepoStore(pool), HostStore(pool), PolicyStore(pool)
    indexer_config = IndexerConfig.from_env({"DATABASE_URL": postgres_dsn, "RELAY_DEV_MODE": "true"})
    backfill, backfill_http = open_backfill(indexer_config, pool=pool, index=index, repos=repos, hosts=hosts)
    servers: list[GrpcServer] = []
    channels: list[grpc.aio.Channel] = []
    stop = asyncio.Event()
    slurper_task: asyncio.Task[None] | None = None
    firehose_task: asyncio.Task[None] | None = None
    try:
        indexer = await _serve(
            indexer_pb2_grpc.add_IndexerServiceServicer_to_server,
            indexer_grpc.IndexerApi(
                repos=repos,
                hosts=hosts,
                policy=policy,
                index=index,
                applier=EventApplier(index, repos),
                backfill=backfill,
            ),
            indexer_grpc.SERVICE_NAME,
        )
        servers.append(indexer)
        indexer_address = f"127.0.0.1:{indexer.port}"
        channels.append(indexer_channel := open_channel(indexer_address))

        runtime = RuntimeConfig(
            service="slurper", grpc_port=0, ops_port=0, nats_url=nats_server, dev_mode=True
        )
        config = SlurperConfig(
            runtime=runtime,
            http_port=0,
            indexer_address=indexer_address,
            upstream_relay="off",
            cursor_flush_seconds=0.2,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.5,
            probe_timeout_seconds=3.0,
        )
        slurper = Slurper(config, IndexerHostStore(indexer_channel), streams)
        slurper_task = asyncio.create_task(slurper.run(stop))
        await asyncio.wait_for(slurper.loaded.wait(), 10)
        slurper_server = await _serve(
            slurper_pb2_grpc.add_SlurperServiceServicer_to_server,
            slurper_grpc.SlurperApi(slurper.admission, slurper.registry, dev_mode=True),
            slurper_grpc.SERVICE_NAME,
        )
        servers.append(slurper_server)

        # The validator's servicer over a real pipeline that is not consuming: GetStats answers zeros.
        channels.append(resolver_channel := open_channel(f"127.0.0.1:{free_port()}"))
        validation = Validation(
            accounts=IndexerClient(indexer_channel, timeout_seconds=5.0, default_account_limit=100),
            identities=ResolverClient(resolver_channel, max_batch_dids=50, timeout_seconds=5.0),
            publisher=VerifiedPublisher(streams, timeout_seconds=5.0),
            policy=CachePolicy(),
        )
        pipeline = ValidatorPipeline(
            nats_client,
            streams,
            validation,
            (0,),
            batch_size=8,
            fetch_timeout_seconds=0.2,
            retry_seconds=0.05,
        )
        validator = await _serve(
            validator_pb2_grpc.add_ValidatorServiceServicer_to_server,
            validator_grpc.ValidatorApi(pipeline),
            validator_grpc.SERVICE_NAME,
        )
        servers.append(validator)
        hub = Hub(VerifiedLog(nats_client, streams, VERIFIED), HubSettings())
        firehose_ws = FirehoseServer(hub, host="127.0.0.1", port=0, shutdown_grace_seconds=1.0)
        await firehose_ws.start()
        firehose_task = asyncio.create_task(firehose_ws.run(stop))
        await asyncio.wait_for(hub.started.wait(), 10)
        firehose = await _serve(
            firehose_pb2_grpc.add_FirehoseServiceServicer_to_server,
            firehose_grpc.FirehoseApi(hub, replay_window_seconds=VERIFIED.max_age_seconds),
            firehose_grpc.SERVICE_NAME,
        )
        servers.append(firehose)
        addresses = {
            "slurper": f"127.0.0.1:{slurper_server.port}",
            "validator": f"127.0.0.1:{validator.port}",
            "indexer": indexer_address,
            "firehose": f"127.0.0.1:{firehose.port}",
        }
        async with running_admin(streams, addresses) as (admin_server, channel):
            yield Relay(
                admin_port=admin_server.port,
                admin=admin_pb2_grpc.AdminServiceStub(channel),
                channel=channel,
                js=streams,
                hosts=hosts,
                policy=policy,
                repos=repos,
                slurper=slurper,
                firehose_url=firehose_ws.url,
                hub=hub,
            )
    finally:
        stop.set()
        for task in (slurper_task, firehose_task):
            if task is not None:
                await asyncio.wait_for(task, 20)
        for server in servers:
            await server.stop(0)
        for channel in channels:
            await channel.close()
        await backfill.close()
        await backfill_http.aclose()
        index.close()
        await close_pool(pool)


async def wait_for(
    predicate: Callable[[], Awaitable[bool] | bool], *, within_seconds: float = 10.0, what: str = ""
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
