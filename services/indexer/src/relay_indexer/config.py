"""Configuration of the indexer service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError

__all__ = ["SERVICE", "IndexerConfig"]

SERVICE: Final = "indexer"
Nsids: TypeAlias = tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexerConfig:
    """Everything the indexer reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50054/9104 by default, NATS, logging, tracing)."""

    http_port: int = env_field(2472, env="RELAY_INDEXER_HTTP_PORT")
    """Public HTTP port for sync XRPC queries (listRepos, listReposByCollection, getLatestCommit...)."""

    database_url: str = env_field("", env="DATABASE_URL")
    """Postgres DSN (asyncpg); its password is redacted in logs."""

    rocksdb_path: str = env_field(".state/indexer/collections", env="RELAY_INDEXER_ROCKSDB_PATH")
    """Directory of the RocksDB collection index."""

    backfill_page_limit: int = env_field(1000, env="RELAY_INDEXER_BACKFILL_PAGE_LIMIT")
    """DIDs asked for per upstream page (listReposByCollection, listRepos); 1 to 1000."""

    backfill_prefetch: int = env_field(4, env="RELAY_INDEXER_BACKFILL_PREFETCH_PAGES")
    """Import pages fetched ahead of the RocksDB writer (pipeline depth)."""

    backfill_import_nsids: int = env_field(2, env="RELAY_INDEXER_BACKFILL_IMPORT_CONCURRENCY")
    """NSIDs imported at once."""

    backfill_import_collections: Nsids = env_field((), env="RELAY_INDEXER_BACKFILL_IMPORT_COLLECTIONS")
    """NSIDs an import covers besides those the index knows (comma-separated; long-tail ones)."""

    backfill_interval_seconds: float = env_field(0.05, env="RELAY_INDEXER_BACKFILL_REQUEST_INTERVAL_SECONDS")
    """Polite pacing: least time between two request starts to one upstream origin."""

    backfill_per_host: int = env_field(4, env="RELAY_INDEXER_BACKFILL_PER_HOST_CONCURRENCY")
    """Backfill requests in flight per upstream origin (relay or PDS)."""

    backfill_crawl_hosts: int = env_field(8, env="RELAY_INDEXER_BACKFILL_CRAWL_HOST_CONCURRENCY")
    """PDS hosts crawled at once."""

    backfill_max_attempts: int = env_field(6, env="RELAY_INDEXER_BACKFILL_MAX_ATTEMPTS")
    """Attempts per upstream request (429, 5xx, timeouts are retried) before the item fails."""

    backfill_backoff_seconds: float = env_field(0.5, env="RELAY_INDEXER_BACKFILL_BACKOFF_BASE_SECONDS")
    """First retry backoff; doubles per attempt (a 429's Retry-After / RateLimit-Reset wins when longer)."""

    backfill_backoff_cap_seconds: float = env_field(60.0, env="RELAY_INDEXER_BACKFILL_BACKOFF_MAX_SECONDS")
    """Backoff cap."""

    backfill_timeout_seconds: float = env_field(30.0, env="RELAY_INDEXER_BACKFILL_REQUEST_TIMEOUT_SECONDS")
    """Timeout of one upstream request."""

    backfill_resume: bool = env_field(True, env="RELAY_INDEXER_BACKFILL_RESUME_ON_START")
    """Continue backfill jobs left running by a previous process (crash, restart)."""

    def __post_init__(self) -> None:
        if not 1 <= self.backfill_page_limit <= 1000:
            raise ConfigError("RELAY_INDEXER_BACKFILL_PAGE_LIMIT", str(self.backfill_page_limit), "1 to 1000")
        for env, value in (
            ("RELAY_INDEXER_BACKFILL_PREFETCH_PAGES", self.backfill_prefetch),
            ("RELAY_INDEXER_BACKFILL_IMPORT_CONCURRENCY", self.backfill_import_nsids),
            ("RELAY_INDEXER_BACKFILL_PER_HOST_CONCURRENCY", self.backfill_per_host),
            ("RELAY_INDEXER_BACKFILL_CRAWL_HOST_CONCURRENCY", self.backfill_crawl_hosts),
            ("RELAY_INDEXER_BACKFILL_MAX_ATTEMPTS", self.backfill_max_attempts),
        ):
            if value < 1:
                raise ConfigError(env, str(value), "at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IndexerConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50054, ops_port=9104)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
