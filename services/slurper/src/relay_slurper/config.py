"""Configuration of the slurper service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError
from relay_runtime.streams import DEFAULT_RAW_PARTITIONS

__all__ = ["SERVICE", "SlurperConfig"]

SERVICE: Final = "slurper"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlurperConfig:
    """Everything the slurper reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50051/9101 by default, NATS, logging, tracing)."""

    http_port: int = env_field(2471, env="RELAY_SLURPER_HTTP_PORT")
    """Public HTTP port for com.atproto.sync.requestCrawl."""

    raw_partitions: int = env_field(DEFAULT_RAW_PARTITIONS, env="RELAY_RAW_PARTITIONS")
    """Number of RAW_FRAMES partitions; must equal the validator's (see relay_runtime.streams)."""

    indexer_address: str = env_field("127.0.0.1:50054", env="RELAY_INDEXER_ADDRESS")
    """gRPC address of the indexer (host list, cursors, bans)."""

    upstream_relay: str = env_field("bsky.network", env="RELAY_SLURPER_UPSTREAM_RELAY")
    """Relay whose listHosts seeds the host list (hostname; http://host:port in dev mode); off disables."""

    upstream_poll_seconds: float = env_field(3600.0, env="RELAY_SLURPER_UPSTREAM_POLL_SECONDS")
    """How often the upstream relay's listHosts is polled again for new hosts."""

    upstream_admit_concurrency: int = env_field(32, env="RELAY_SLURPER_UPSTREAM_ADMIT_CONCURRENCY")
    """Hosts new to us from the upstream's list admitted at once (DNS, describeServer probe, store)."""

    extra_ca_file: str = env_field("", env="RELAY_SLURPER_EXTRA_CA_FILE")
    """PEM CA bundle trusted in addition to the system store (dev mode only: test TLS hosts)."""

    trusted_domains: tuple[str, ...] = env_field((), env="RELAY_SLURPER_TRUSTED_DOMAINS")
    """Domain suffixes whose hosts are trusted: higher rate limits, no new-hosts-per-day quota."""

    default_account_limit: int = env_field(100, env="RELAY_SLURPER_DEFAULT_ACCOUNT_LIMIT")
    """Account limit of a host whose own limit is 0 (the rate windows scale with it)."""

    rate_per_second: int = env_field(50, env="RELAY_SLURPER_RATE_PER_SECOND")
    """Base events/second per host; plus 1 per 1,000 accounts of its account limit."""

    rate_per_hour: int = env_field(2500, env="RELAY_SLURPER_RATE_PER_HOUR")
    """Base events/hour per host; plus 1 per account of its account limit."""

    rate_per_day: int = env_field(20000, env="RELAY_SLURPER_RATE_PER_DAY")
    """Base events/day per host; plus 10 per account of its account limit."""

    trusted_rate_multiplier: int = env_field(100, env="RELAY_SLURPER_TRUSTED_RATE_MULTIPLIER")
    """Trusted hosts' rate windows are this many times larger."""

    max_frame_bytes: int = env_field(5_000_000, env="RELAY_SLURPER_MAX_FRAME_BYTES")
    """Larger upstream frames close the connection (WebSocket close 1009)."""

    max_in_flight: int = env_field(4096, env="RELAY_SLURPER_MAX_IN_FLIGHT")
    """Publishes awaiting a JetStream ack, across all hosts; at the cap reading pauses."""

    publish_ack_timeout_seconds: float = env_field(10.0, env="RELAY_SLURPER_PUBLISH_ACK_TIMEOUT_SECONDS")
    """A publish not acked within this long counts as failed (the host reconnects and replays);
    checked every tenth of it, at most every second, so it fires up to one such sweep late."""

    cursor_flush_seconds: float = env_field(2.0, env="RELAY_SLURPER_CURSOR_FLUSH_SECONDS")
    """How often acked cursors are checkpointed to the indexer (one batched SetHostCursors call)."""

    ping_interval_seconds: float = env_field(30.0, env="RELAY_SLURPER_PING_INTERVAL_SECONDS")
    """WebSocket keepalive ping interval; a pong missing for as long again closes the connection."""

    backoff_base_seconds: float = env_field(1.0, env="RELAY_SLURPER_BACKOFF_BASE_SECONDS")
    """First reconnect delay; doubles per consecutive failure (with jitter)."""

    backoff_max_seconds: float = env_field(300.0, env="RELAY_SLURPER_BACKOFF_MAX_SECONDS")
    """Cap of the exponential reconnect delay."""

    offline_after_failures: int = env_field(10, env="RELAY_SLURPER_OFFLINE_AFTER_FAILURES")
    """Consecutive failed connects after which a host is marked offline (and retried slowly)."""

    offline_retry_seconds: float = env_field(1800.0, env="RELAY_SLURPER_OFFLINE_RETRY_SECONDS")
    """Retry period of an offline host, forever (with jitter): hosts are never given up on."""

    public_request_crawl: bool = env_field(True, env="RELAY_SLURPER_PUBLIC_REQUEST_CRAWL")
    """Initial switch of public requestCrawl until an operator stores one (SetCrawlPolicy)."""

    new_hosts_per_day: int = env_field(50, env="RELAY_SLURPER_NEW_HOSTS_PER_DAY")
    """Initial cap on hosts admitted per day via requestCrawl until an operator stores one."""

    probe_timeout_seconds: float = env_field(10.0, env="RELAY_SLURPER_PROBE_TIMEOUT_SECONDS")
    """Deadline of the whole describeServer probe (connect to last byte) and of the WebSocket handshake."""

    def __post_init__(self) -> None:
        positive = {
            "RELAY_RAW_PARTITIONS": self.raw_partitions,
            "RELAY_SLURPER_MAX_FRAME_BYTES": self.max_frame_bytes,
            "RELAY_SLURPER_MAX_IN_FLIGHT": self.max_in_flight,
            "RELAY_SLURPER_UPSTREAM_ADMIT_CONCURRENCY": self.upstream_admit_concurrency,
            "RELAY_SLURPER_PROBE_TIMEOUT_SECONDS": self.probe_timeout_seconds,
            "RELAY_SLURPER_OFFLINE_AFTER_FAILURES": self.offline_after_failures,
            "RELAY_SLURPER_TRUSTED_RATE_MULTIPLIER": self.trusted_rate_multiplier,
            "RELAY_SLURPER_CURSOR_FLUSH_SECONDS": self.cursor_flush_seconds,
            "RELAY_SLURPER_BACKOFF_BASE_SECONDS": self.backoff_base_seconds,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(key, str(value), "a number > 0")
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ConfigError("RELAY_SLURPER_BACKOFF_MAX_SECONDS", str(self.backoff_max_seconds), ">= base")
        if self.extra_ca_file and not self.runtime.dev_mode:
            raise ConfigError(
                "RELAY_SLURPER_EXTRA_CA_FILE", self.extra_ca_file, "empty unless RELAY_DEV_MODE"
            )

    @property
    def upstream_enabled(self) -> bool:
        """False when the listHosts bootstrap is switched off (``off``, ``none`` or empty)."""
        return self.upstream_relay.strip().lower() not in ("", "off", "none")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlurperConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50051, ops_port=9101)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
