"""Configuration of the resolver service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields

__all__ = ["SERVICE", "ResolverConfig"]

SERVICE: Final = "resolver"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolverConfig:
    """Everything the resolver reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50053/9103 by default, NATS, logging, tracing)."""

    plc_url: str = env_field("https://plc.directory", env="RELAY_RESOLVER_PLC_URL")
    """Base URL of the did:plc directory."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ResolverConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50053, ops_port=9103)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
