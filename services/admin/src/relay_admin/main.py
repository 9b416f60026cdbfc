"""Wiring of the admin service (STYLE §13 order); behaviour lives in the other modules."""

from __future__ import annotations

import asyncio
import logging

from relay_runtime import ServiceRuntime, configure_logging

from relay_admin import grpc_api, metrics as metrics
from relay_admin.account_event import JetStreamAnnouncer
from relay_admin.accounts import AccountOperations
from relay_admin.auth import AuthInterceptor, TokenSet
from relay_admin.backfill import BackfillOperations
from relay_admin.config import PEERS, SERVICE, AdminConfig
from relay_admin.hosts import HostOperations
from relay_admin.peers import Peers
from relay_admin.stats import StatsOperations

__all__ = ["main", "run"]

logger = logging.getLogger(__name__)


async def main() -> None:
    config = AdminConfig.from_env()
    configure_logging(config.runtime.log_level, service=SERVICE)
    interceptors = [AuthInterceptor(TokenSet(config.tokens))] if config.auth_required else []
    if not interceptors:
        logger.warning("RELAY_ADMIN_TOKENS is empty and RELAY_DEV_MODE is on: the admin API is open")
    # VERIFIED is created by the validator; admin only publishes #account announcements to it.
    async with ServiceRuntime(
        config.runtime, service_config=config, uses_nats=True, grpc_interceptors=interceptors
    ) as runtime:
        addresses = {peer: config.peer_address(peer) for peer in PEERS}
        channels = {peer: runtime.channel(address) for peer, address in addresses.items()}
        peers = Peers(channels, addresses, timeout_seconds=config.peer_timeout_seconds)
        dev_mode = config.runtime.dev_mode
        api = grpc_api.AdminApi(
            hosts=HostOperations(peers, dev_mode=dev_mode),
            accounts=AccountOperations(peers, JetStreamAnnouncer(runtime.jetstream)),
            backfill=BackfillOperations(peers, dev_mode=dev_mode),
            stats=StatsOperations(peers),
        )
        grpc_api.add_to(runtime.grpc, api)
        await runtime.serve()


def run() -> None:
    """Console-script entry point of the service (the operator CLI is ``relay-admin``)."""
    asyncio.run(main())
