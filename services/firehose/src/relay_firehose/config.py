"""Configuration of the firehose service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields

__all__ = ["SERVICE", "FirehoseConfig"]

SERVICE: Final = "firehose"


@dataclass(frozen=True, slots=True, kw_only=True)
class FirehoseConfig:
    """Everything the firehose reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50055/9105 by default, NATS, logging, tracing)."""

    http_port: int = env_field(2473, env="RELAY_FIREHOSE_HTTP_PORT")
    """Public HTTP port for the subscribeRepos WebSocket."""

    replay_window_seconds: float = env_field(72 * 3600.0, env="RELAY_FIREHOSE_REPLAY_WINDOW_SECONDS")
    """How far back a consumer cursor may reach (e.g. 72h)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FirehoseConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50055, ops_port=9105)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
