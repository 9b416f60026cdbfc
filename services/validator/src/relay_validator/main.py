"""Wiring of the validator service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio

from relay_runtime import ServiceRuntime, configure_logging
from relay_runtime.readiness import CheckResult
from relay_runtime.streams import RAW_FRAMES, VERIFIED

from relay_validator import grpc_api
from relay_validator.config import SERVICE, ValidatorConfig
from relay_validator.indexer_client import IndexerClient
from relay_validator.resolver_client import ResolverClient
from relay_validator.service import ValidatorPipeline
from relay_validator.validation import Validation
from relay_validator.verified_publisher import VerifiedPublisher
from relay_validator.verify_pool import VerifyPool

__all__ = ["main", "run"]


async def main() -> None:
    config = ValidatorConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    # Started before the runtime opens its ports: a worker that cannot start fails the service early.
    verifier = VerifyPool(config.verify_workers) if config.verify_workers else None
    if verifier is not None:
        verifier.start()
    try:
        await _serve(config, verifier)
    finally:
        if verifier is not None:
            verifier.close()


async def _serve(config: ValidatorConfig, verifier: VerifyPool | None) -> None:
    async with ServiceRuntime(
        config.runtime, service_config=config, uses_nats=True, streams=(RAW_FRAMES, VERIFIED)
    ) as runtime:
        resolver = ResolverClient(
            runtime.channel(config.resolver_address),
            max_batch_dids=config.resolver_max_batch_dids,
            timeout_seconds=config.rpc_timeout_seconds,
        )
        indexer = IndexerClient(
            runtime.channel(config.indexer_address),
            timeout_seconds=config.rpc_timeout_seconds,
            default_account_limit=config.default_account_limit,
        )
        publisher = VerifiedPublisher(runtime.jetstream, timeout_seconds=config.publish_timeout_seconds)
        validation = Validation(
            accounts=indexer,
            identities=resolver,
            publisher=publisher,
            policy=config.cache_policy,
            verifier=verifier,
        )
        pipeline = ValidatorPipeline(
            runtime.nats,
            runtime.jetstream,
            validation,
            config.owned_partitions,
            batch_size=config.batch_size,
            fetch_timeout_seconds=config.fetch_timeout_seconds,
            retry_seconds=config.retry_seconds,
        )

        async def resolver_ready() -> CheckResult:
            return CheckResult(await resolver.serving(), "resolver: not serving")

        async def indexer_ready() -> CheckResult:
            return CheckResult(await indexer.serving(), "indexer: not serving")

        runtime.readiness.add("resolver", resolver_ready)
        runtime.readiness.add("indexer", indexer_ready)
        grpc_api.add_to(runtime.grpc, grpc_api.ValidatorApi(pipeline))
        await runtime.serve(pipeline.run(runtime.stopping))


def run() -> None:
    """Console-script entry point."""
    asyncio.run(main())
