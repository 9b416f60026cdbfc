"""Configuration of the admin service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from relay_runtime.config import RuntimeConfig, env_field, env_fields, parse_int, read_env_fields
from relay_runtime.errors import ConfigError

__all__ = ["PEERS", "SERVICE", "AdminConfig"]

SERVICE: Final = "admin"

PEERS: Final = ("slurper", "validator", "indexer", "firehose")
"""The services admin calls, in the order ``stats`` lists them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminConfig:
    """Everything the admin reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50056/9106 by default, NATS, logging, tracing)."""

    tokens: tuple[str, ...] = env_field((), env="RELAY_ADMIN_TOKENS", secret=True)
    """Bearer tokens operators may present, comma-separated (two during a rotation). Without one
    the service refuses to start unless ``RELAY_DEV_MODE`` is on, and then answers every call."""

    indexer_address: str = env_field("127.0.0.1:50054", env="RELAY_INDEXER_ADDRESS")
    """gRPC address of the indexer (hosts, bans, accounts, backfill)."""

    slurper_address: str = env_field("127.0.0.1:50051", env="RELAY_SLURPER_ADDRESS")
    """gRPC address of the slurper (connections, crawl policy)."""

    firehose_address: str = env_field("127.0.0.1:50055", env="RELAY_FIREHOSE_ADDRESS")
    """gRPC address of the firehose (consumers, stats, replay scrub)."""

    validator_address: str = env_field("127.0.0.1:50052", env="RELAY_VALIDATOR_ADDRESS")
    """gRPC address of the validator (pipeline stats, drops)."""

    peer_timeout_seconds: float = env_field(10.0, env="RELAY_ADMIN_PEER_TIMEOUT_SECONDS")
    """Deadline of each call admin makes to a peer; past it the operator gets UNAVAILABLE."""

    def __post_init__(self) -> None:
        if self.peer_timeout_seconds <= 0:
            raise ConfigError("RELAY_ADMIN_PEER_TIMEOUT_SECONDS", str(self.peer_timeout_seconds), "> 0")
        if not self.tokens and not self.runtime.dev_mode:
            raise ConfigError(
                "RELAY_ADMIN_TOKENS", "", "at least one token (or RELAY_DEV_MODE=true for an open dev API)"
            )
        for token in self.tokens:
            if len(token) < 16 and not self.runtime.dev_mode:
                # Not echoing the value: it is a secret even when it is a bad one.
                raise ConfigError("RELAY_ADMIN_TOKENS", "***", "tokens of at least 16 characters")

    @property
    def auth_required(self) -> bool:
        """False only in dev mode without tokens (a warning is logged at startup)."""
        return bool(self.tokens)

    def peer_address(self, peer: str) -> str:
        """The configured gRPC address of ``peer`` (one of :data:`PEERS`)."""
        address: str = getattr(self, f"{peer}_address")
        return address

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdminConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable.

        A peer whose ``RELAY_<PEER>_ADDRESS`` is unset but whose ``RELAY_<PEER>_GRPC_PORT`` is set
        (the dev stack gives every service every port, shifted by its offset) is reached on
        loopback at that port.
        """
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50056, ops_port=9106)
        values: dict[str, Any] = read_env_fields(cls, env, service=SERVICE)
        names = env_fields(cls, service=SERVICE)
        for peer in PEERS:
            field = f"{peer}_address"
            port_key = f"RELAY_{peer.upper()}_GRPC_PORT"
            if field not in values and env.get(port_key, "").strip() and names[field] not in env:
                values[field] = f"127.0.0.1:{parse_int(port_key, env[port_key])}"
        return cls(runtime=runtime, **values)
