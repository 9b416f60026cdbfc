"""Configuration of the admin service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields

__all__ = ["SERVICE", "AdminConfig"]

SERVICE: Final = "admin"


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminConfig:
    """Everything the admin reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50056/9106 by default, NATS, logging, tracing)."""

    token: str = env_field("", env="RELAY_ADMIN_TOKEN", secret=True)
    """Bearer token operators must present; empty refuses every call once auth lands."""

    indexer_address: str = env_field("127.0.0.1:50054", env="RELAY_INDEXER_ADDRESS")
    """gRPC address of the indexer."""

    slurper_address: str = env_field("127.0.0.1:50051", env="RELAY_SLURPER_ADDRESS")
    """gRPC address of the slurper."""

    firehose_address: str = env_field("127.0.0.1:50055", env="RELAY_FIREHOSE_ADDRESS")
    """gRPC address of the firehose."""

    validator_address: str = env_field("127.0.0.1:50052", env="RELAY_VALIDATOR_ADDRESS")
    """gRPC address of the validator."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdminConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50056, ops_port=9106)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
