"""Wiring of the slurper service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio

from relay_runtime import ServiceRuntime, configure_logging
from relay_runtime.streams import RAW_FRAMES

from relay_slurper import grpc_api, metrics as metrics
from relay_slurper.config import SERVICE, SlurperConfig
from relay_slurper.indexer_client import IndexerHostStore
from relay_slurper.slurper import Slurper

__all__ = ["main", "run"]


async def main() -> None:
    config = SlurperConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    async with ServiceRuntime(
        config.runtime, service_config=config, uses_nats=True, streams=(RAW_FRAMES,)
    ) as runtime:
        store = IndexerHostStore(runtime.channel(config.indexer_address))
        slurper = Slurper(config, store, runtime.jetstream)
        runtime.readiness.add("hosts_loaded", slurper.ready)
        grpc_api.add_to(
            runtime.grpc,
            grpc_api.SlurperApi(slurper.admission, slurper.registry, dev_mode=config.runtime.dev_mode),
        )
        # Runs after the served loop drained (or was cut at the grace period): the last acked
        # cursors reach the indexer either way.
        runtime.on_shutdown(slurper.registry.flush_cursors_hook)
        await runtime.serve(slurper.run(runtime.stopping))


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
