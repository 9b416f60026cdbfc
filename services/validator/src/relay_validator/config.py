"""Configuration of the validator service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError
from relay_runtime.streams import DEFAULT_RAW_PARTITIONS

__all__ = ["SERVICE", "ValidatorConfig"]

SERVICE: Final = "validator"


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorConfig:
    """Everything the validator reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50052/9102 by default, NATS, logging, tracing)."""

    raw_partitions: int = env_field(DEFAULT_RAW_PARTITIONS, env="RELAY_RAW_PARTITIONS")
    """Number of RAW_FRAMES partitions; must equal the slurper's."""

    resolver_address: str = env_field("127.0.0.1:50053", env="RELAY_RESOLVER_ADDRESS")
    """gRPC address of the resolver (DID → signing key, PDS)."""

    indexer_address: str = env_field("127.0.0.1:50054", env="RELAY_INDEXER_ADDRESS")
    """gRPC address of the indexer (account/repo state)."""

    def __post_init__(self) -> None:
        if self.raw_partitions < 1:
            raise ConfigError("RELAY_RAW_PARTITIONS", str(self.raw_partitions), "an integer >= 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ValidatorConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50052, ops_port=9102)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
