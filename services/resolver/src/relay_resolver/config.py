"""Configuration of the resolver service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError

from relay_resolver.http_client import HttpLimits
from relay_resolver.resolver import CachePolicy

__all__ = ["SERVICE", "ResolverConfig"]

SERVICE: Final = "resolver"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolverConfig:
    """Everything the resolver reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50053/9103 by default, logging, tracing, dev mode)."""

    plc_url: str = env_field("https://plc.directory", env="RELAY_RESOLVER_PLC_URL")
    """Base URL of the did:plc directory; plain http only in dev mode."""

    cache_max_entries: int = env_field(100_000, env="RELAY_RESOLVER_CACHE_MAX_ENTRIES")
    """Hard cap on cached DIDs (identities and failures); the least recently used go first."""

    cache_ttl_seconds: float = env_field(3600.0, env="RELAY_RESOLVER_CACHE_TTL_SECONDS")
    """How long a resolved identity is served from the cache."""

    error_ttl_seconds: float = env_field(120.0, env="RELAY_RESOLVER_ERROR_TTL_SECONDS")
    """How long not-found / tombstoned / invalid-document answers are cached."""

    unreachable_ttl_seconds: float = env_field(10.0, env="RELAY_RESOLVER_UNREACHABLE_TTL_SECONDS")
    """How long network failures are cached (short: the host may be back soon)."""

    max_concurrent_fetches: int = env_field(32, env="RELAY_RESOLVER_MAX_CONCURRENT_FETCHES")
    """Outbound requests at once; also the HTTP connection pool size."""

    max_pending_fetches: int = env_field(4096, env="RELAY_RESOLVER_MAX_PENDING_FETCHES")
    """DIDs being fetched or queued; further misses are answered OVERLOADED."""

    max_batch_dids: int = env_field(1000, env="RELAY_RESOLVER_MAX_BATCH_DIDS")
    """Largest ResolveDids/Invalidate request accepted."""

    max_document_bytes: int = env_field(65_536, env="RELAY_RESOLVER_MAX_DOCUMENT_BYTES")
    """DID documents larger than this are invalid."""

    max_audit_log_bytes: int = env_field(1_048_576, env="RELAY_RESOLVER_MAX_AUDIT_LOG_BYTES")
    """PLC audit logs (KeyHistory) larger than this are invalid."""

    max_concurrent_history_fetches: int = env_field(4, env="RELAY_RESOLVER_MAX_CONCURRENT_HISTORY_FETCHES")
    """Audit-log requests at once (taken from the same connection pool as documents)."""

    http_connect_timeout_seconds: float = env_field(3.0, env="RELAY_RESOLVER_HTTP_CONNECT_TIMEOUT_SECONDS")
    """Connect timeout for document fetches."""

    http_timeout_seconds: float = env_field(10.0, env="RELAY_RESOLVER_HTTP_TIMEOUT_SECONDS")
    """Deadline for one whole document fetch (connect, wait, read)."""

    def __post_init__(self) -> None:
        scheme = urlsplit(self.plc_url).scheme
        if scheme not in ("http", "https") or (scheme == "http" and not self.runtime.dev_mode):
            raise ConfigError("RELAY_RESOLVER_PLC_URL", self.plc_url, "an https URL (http only in dev mode)")
        for key, value in (
            ("RELAY_RESOLVER_CACHE_MAX_ENTRIES", self.cache_max_entries),
            ("RELAY_RESOLVER_MAX_CONCURRENT_FETCHES", self.max_concurrent_fetches),
            ("RELAY_RESOLVER_MAX_BATCH_DIDS", self.max_batch_dids),
            ("RELAY_RESOLVER_MAX_DOCUMENT_BYTES", self.max_document_bytes),
            ("RELAY_RESOLVER_MAX_AUDIT_LOG_BYTES", self.max_audit_log_bytes),
            ("RELAY_RESOLVER_MAX_CONCURRENT_HISTORY_FETCHES", self.max_concurrent_history_fetches),
        ):
            if value < 1:
                raise ConfigError(key, str(value), ">= 1")
        if self.max_pending_fetches < self.max_concurrent_fetches:
            raise ConfigError(
                "RELAY_RESOLVER_MAX_PENDING_FETCHES",
                str(self.max_pending_fetches),
                ">= max concurrent fetches",
            )
        if min(self.http_connect_timeout_seconds, self.http_timeout_seconds) <= 0:
            raise ConfigError("RELAY_RESOLVER_HTTP_TIMEOUT_SECONDS", str(self.http_timeout_seconds), "> 0")

    def cache_policy(self) -> CachePolicy:
        return CachePolicy(
            max_entries=self.cache_max_entries,
            ttl_seconds=self.cache_ttl_seconds,
            error_ttl_seconds=self.error_ttl_seconds,
            unreachable_ttl_seconds=self.unreachable_ttl_seconds,
            max_concurrent_fetches=self.max_concurrent_fetches,
            max_pending_fetches=self.max_pending_fetches,
        )

    def plc_hosts(self) -> frozenset[str]:
        """The directory's hostname: operator-chosen, so exempt from the public-address rule."""
        host = urlsplit(self.plc_url).hostname
        return frozenset({host} if host else set())

    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            max_connections=self.max_concurrent_fetches,
            connect_timeout_seconds=self.http_connect_timeout_seconds,
            read_timeout_seconds=self.http_timeout_seconds,
            total_timeout_seconds=self.http_timeout_seconds,
            max_document_bytes=self.max_document_bytes,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ResolverConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50053, ops_port=9103)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
