"""Configuration of the firehose service, read once from the environment at startup."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError
from relay_runtime.streams import VERIFIED, StreamDef

from relay_firehose.hub import HubSettings

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
    """How far back a consumer cursor may reach (e.g. 72h): applied as the VERIFIED stream's max age."""

    replay_max_bytes: int = env_field(VERIFIED.max_bytes, env="RELAY_FIREHOSE_REPLAY_MAX_BYTES")
    """Size cap of the replay window (the VERIFIED stream's max bytes; -1 for none)."""

    ping_interval_seconds: float = env_field(30.0, env="RELAY_FIREHOSE_PING_INTERVAL_SECONDS")
    """How often each consumer is pinged; one that neither answers nor reads for an interval is closed."""

    max_live_buffer_bytes: int = env_field(16 * 1024 * 1024, env="RELAY_FIREHOSE_MAX_LIVE_BUFFER_BYTES")
    """Write-buffer size past which a live consumer gets ConsumerTooSlow and is closed."""

    catchup_buffer_bytes: int = env_field(1024 * 1024, env="RELAY_FIREHOSE_CATCHUP_BUFFER_BYTES")
    """Write-buffer size at which a replaying consumer's reads pause until it drains."""

    ring_size_events: int = env_field(20_000, env="RELAY_FIREHOSE_RING_SIZE_EVENTS")
    """Newest events kept in memory, where replaying consumers hand over to live."""

    flush_interval_seconds: float = env_field(0.005, env="RELAY_FIREHOSE_FLUSH_INTERVAL_SECONDS")
    """Pause between live fan-out writes: frames arriving meanwhile share one write per consumer."""

    def __post_init__(self) -> None:
        if not 0 <= self.http_port < 65536:
            raise ConfigError("RELAY_FIREHOSE_HTTP_PORT", str(self.http_port), "a port number")
        if self.replay_window_seconds <= 0:
            raise ConfigError(
                "RELAY_FIREHOSE_REPLAY_WINDOW_SECONDS", str(self.replay_window_seconds), "a positive duration"
            )
        if self.max_live_buffer_bytes <= self.catchup_buffer_bytes:
            raise ConfigError(
                "RELAY_FIREHOSE_MAX_LIVE_BUFFER_BYTES",
                str(self.max_live_buffer_bytes),
                "more than RELAY_FIREHOSE_CATCHUP_BUFFER_BYTES",
            )
        if self.ring_size_events < 1:
            raise ConfigError("RELAY_FIREHOSE_RING_SIZE_EVENTS", str(self.ring_size_events), "at least 1")
        if self.ping_interval_seconds <= 0:
            raise ConfigError(
                "RELAY_FIREHOSE_PING_INTERVAL_SECONDS", str(self.ping_interval_seconds), "a positive duration"
            )

    def stream(self) -> StreamDef:
        """VERIFIED with this config's replay window (ensured at start)."""
        return dataclasses.replace(
            VERIFIED, max_age_seconds=self.replay_window_seconds, max_bytes=self.replay_max_bytes
        )

    def hub_settings(self) -> HubSettings:
        return HubSettings(
            ring_size_events=self.ring_size_events,
            max_live_buffer_bytes=self.max_live_buffer_bytes,
            catchup_buffer_bytes=self.catchup_buffer_bytes,
            flush_interval_seconds=self.flush_interval_seconds,
            ping_interval_seconds=self.ping_interval_seconds,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FirehoseConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50055, ops_port=9105)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
