"""Wiring of the resolver service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio

from relay_runtime import ServiceRuntime, configure_logging

from relay_resolver import grpc_api, metrics
from relay_resolver.config import SERVICE, ResolverConfig
from relay_resolver.did_web import DidWebSource, PublicAddressResolver
from relay_resolver.http_client import DocumentFetcher
from relay_resolver.key_history import KeyHistoryLookup
from relay_resolver.plc import PlcSource
from relay_resolver.resolver import DocumentSource, IdentityResolver

__all__ = ["main", "run"]


async def main() -> None:
    config = ResolverConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    async with ServiceRuntime(config.runtime, service_config=config) as runtime:
        observer = metrics.PrometheusObserver()
        guard = None if config.runtime.dev_mode else PublicAddressResolver(config.plc_hosts())
        fetcher = DocumentFetcher(config.http_limits(), observe_latency=observer.http_request, resolver=guard)
        plc = PlcSource(fetcher, config.plc_url)
        sources: dict[str, DocumentSource] = {
            "plc": plc,
            "web": DidWebSource(fetcher, dev_mode=config.runtime.dev_mode),
        }
        resolver = IdentityResolver(sources, config.cache_policy(), observer)
        histories = KeyHistoryLookup(
            plc, max_bytes=config.max_audit_log_bytes, max_concurrent=config.max_concurrent_history_fetches
        )
        api = grpc_api.ResolverApi(resolver, histories, max_batch_dids=config.max_batch_dids)
        grpc_api.add_to(runtime.grpc, api)
        try:
            await runtime.serve()
        finally:
            # After gRPC stopped: nobody waits on a fetch any more.
            await resolver.aclose()
            await fetcher.aclose()


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
