"""Wiring of the firehose service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio

from relay_runtime import ServiceRuntime, configure_logging
from relay_runtime.streams import VERIFIED

from relay_firehose import grpc_api, metrics as metrics
from relay_firehose.config import SERVICE, FirehoseConfig

__all__ = ["main", "run"]


async def main() -> None:
    config = FirehoseConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    async with ServiceRuntime(
        config.runtime,
        service_config=config,
        uses_nats=True,
        streams=(VERIFIED,),
    ) as runtime:
        # Honest state until the service's behaviour exists: /readyz 503 and gRPC health NOT_SERVING.
        runtime.readiness.not_implemented(grpc_api.ISSUE)
        grpc_api.add_to(runtime.grpc, grpc_api.FirehoseApi())
        await runtime.serve()


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
