"""Configuration of the indexer service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields

__all__ = ["SERVICE", "IndexerConfig"]

SERVICE: Final = "indexer"


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IndexerConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50054, ops_port=9104)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
