"""Wiring of the firehose service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio

from relay_runtime import ServiceRuntime, configure_logging

from relay_firehose import grpc_api
from relay_firehose.config import SERVICE, FirehoseConfig
from relay_firehose.hub import Hub
from relay_firehose.server import FirehoseServer
from relay_firehose.verified_log import VerifiedLog

__all__ = ["main", "run"]


async def main() -> None:
    config = FirehoseConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    stream = config.stream()
    async with ServiceRuntime(
        config.runtime, service_config=config, uses_nats=True, streams=(stream,)
    ) as runtime:
        hub = Hub(VerifiedLog(runtime.nats, runtime.jetstream, stream), config.hub_settings())
        server = FirehoseServer(
            hub,
            host=config.runtime.bind_host,
            port=config.http_port,
            shutdown_grace_seconds=config.runtime.shutdown_grace_seconds,
        )
        await server.start()
        runtime.readiness.add("subscribe_repos", server.readiness)
        grpc_api.add_to(
            runtime.grpc, grpc_api.FirehoseApi(hub, replay_window_seconds=config.replay_window_seconds)
        )
        await runtime.serve(server.run(runtime.stopping))


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
