"""Configuration of the validator service, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from relay_runtime.config import RuntimeConfig, env_field, read_env_fields
from relay_runtime.errors import ConfigError
from relay_runtime.streams import DEFAULT_RAW_PARTITIONS

from relay_validator.validation import CachePolicy

__all__ = ["DEFAULT_BATCH_SIZE", "SERVICE", "ValidatorConfig", "parse_partitions"]

SERVICE: Final = "validator"


def parse_partitions(raw: str, partitions: int) -> tuple[int, ...]:
    """`""` → all; `"0-7"`, `"1,3,5"`, `"0-3,6"` → those partitions, sorted.

    Raises:
        ConfigError: malformed, or a partition outside `range(partitions)`.
    """
    if not raw.strip():
        return tuple(range(partitions))
    owned: set[int] = set()
    try:
        for part in raw.split(","):
            low, sep, high = part.strip().partition("-")
            first = int(low)
            last = int(high) if sep else first
            owned.update(range(first, last + 1))
    except ValueError:
        raise ConfigError("RELAY_VALIDATOR_PARTITIONS", raw, "ranges like 0-7 or 1,3,5") from None
    if not owned or min(owned) < 0 or max(owned) >= partitions:
        raise ConfigError("RELAY_VALIDATOR_PARTITIONS", raw, f"partitions within 0-{partitions - 1}")
    return tuple(sorted(owned))


DEFAULT_BATCH_SIZE: Final = 1000
"""Only a backlog fills a batch; then 1,000 drained 5,270-5,588 commits/s against 4,966 for 500
and 4,892-4,985 for 250 (docs/benchmarks.md, session 5). At most the consumer's max ack pending."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorConfig:
    """Everything the validator reads from env; documented in docs/config.md (checked by a test)."""

    runtime: RuntimeConfig
    """Shared process settings (ports 50052/9102 by default, NATS, logging, tracing)."""

    raw_partitions: int = env_field(DEFAULT_RAW_PARTITIONS, env="RELAY_RAW_PARTITIONS")
    """Number of RAW_FRAMES partitions; must equal the slurper's."""

    partitions: str = env_field("", env="RELAY_VALIDATOR_PARTITIONS")
    """Partitions this replica owns (e.g. 0-7, 1,3,5); empty = all. Exactly one owner per partition."""

    resolver_address: str = env_field("127.0.0.1:50053", env="RELAY_RESOLVER_ADDRESS")
    """gRPC address of the resolver (DID → signing key, PDS)."""

    indexer_address: str = env_field("127.0.0.1:50054", env="RELAY_INDEXER_ADDRESS")
    """gRPC address of the indexer (account/repo state)."""

    batch_size: int = env_field(DEFAULT_BATCH_SIZE, env="RELAY_VALIDATOR_BATCH_SIZE")
    """Raw frames taken and judged per batch at most (one indexer read, one resolve, one write per
    batch)."""

    fetch_timeout_seconds: float = env_field(0.5, env="RELAY_VALIDATOR_FETCH_TIMEOUT_SECONDS")
    """How long the loop waits for a frame before it finishes pending writes and waits again."""

    retry_seconds: float = env_field(0.2, env="RELAY_VALIDATOR_RETRY_SECONDS")
    """First backoff of a stalled partition (dependency down, identity unresolvable); doubles to 5 s."""

    rpc_timeout_seconds: float = env_field(5.0, env="RELAY_VALIDATOR_RPC_TIMEOUT_SECONDS")
    """Timeout of each resolver/indexer call; a timeout stalls the partition and retries."""

    publish_timeout_seconds: float = env_field(10.0, env="RELAY_VALIDATOR_PUBLISH_TIMEOUT_SECONDS")
    """Time for JetStream to ack a batch's verified events before the batch is retried."""

    resolver_max_batch_dids: int = env_field(1000, env="RELAY_VALIDATOR_RESOLVER_MAX_BATCH_DIDS")
    """DIDs per ResolveDids call; must not exceed the resolver's RELAY_RESOLVER_MAX_BATCH_DIDS."""

    default_account_limit: int = env_field(100, env="RELAY_VALIDATOR_DEFAULT_ACCOUNT_LIMIT")
    """Account limit of a host whose own limit is 0 (trusted: none); new accounts beyond are throttled."""

    account_cache_entries: int = env_field(200_000, env="RELAY_VALIDATOR_ACCOUNT_CACHE_ENTRIES")
    """Account states kept in memory (LRU)."""

    account_ttl_seconds: float = env_field(10.0, env="RELAY_VALIDATOR_ACCOUNT_TTL_SECONDS")
    """Cached account state is re-read from the indexer after this long (bounds how late a takedown shows)."""

    identity_cache_entries: int = env_field(200_000, env="RELAY_VALIDATOR_IDENTITY_CACHE_ENTRIES")
    """Resolved identities kept in memory (LRU)."""

    identity_ttl_seconds: float = env_field(600.0, env="RELAY_VALIDATOR_IDENTITY_TTL_SECONDS")
    """How long a resolved identity is used before asking the resolver again (#identity purges at once)."""

    identity_min_age_seconds: float = env_field(2.0, env="RELAY_VALIDATOR_IDENTITY_MIN_AGE_SECONDS")
    """On a key or PDS mismatch, identities resolved more recently than this are not fetched again."""

    verify_workers: int = env_field(2, env="RELAY_VALIDATOR_VERIFY_WORKERS")
    """Worker processes that decode and verify frames (signatures, MST inversion) beside the main
    process; 0 = verify inline in the main process (one core)."""

    def __post_init__(self) -> None:
        if self.raw_partitions < 1:
            raise ConfigError("RELAY_RAW_PARTITIONS", str(self.raw_partitions), "an integer >= 1")
        parse_partitions(self.partitions, self.raw_partitions)
        for key, value in (
            ("RELAY_VALIDATOR_BATCH_SIZE", self.batch_size),
            ("RELAY_VALIDATOR_RESOLVER_MAX_BATCH_DIDS", self.resolver_max_batch_dids),
            ("RELAY_VALIDATOR_ACCOUNT_CACHE_ENTRIES", self.account_cache_entries),
            ("RELAY_VALIDATOR_IDENTITY_CACHE_ENTRIES", self.identity_cache_entries),
        ):
            if value < 1:
                raise ConfigError(key, str(value), "an integer >= 1")
        if self.verify_workers < 0:
            raise ConfigError("RELAY_VALIDATOR_VERIFY_WORKERS", str(self.verify_workers), "an integer >= 0")
        if self.batch_size > 1000:
            raise ConfigError(
                "RELAY_VALIDATOR_BATCH_SIZE", str(self.batch_size), "at most 1000 (max_ack_pending)"
            )
        if self.default_account_limit < 0:
            raise ConfigError(
                "RELAY_VALIDATOR_DEFAULT_ACCOUNT_LIMIT", str(self.default_account_limit), ">= 0"
            )

    @property
    def owned_partitions(self) -> tuple[int, ...]:
        return parse_partitions(self.partitions, self.raw_partitions)

    @property
    def cache_policy(self) -> CachePolicy:
        return CachePolicy(
            account_entries=self.account_cache_entries,
            account_ttl_seconds=self.account_ttl_seconds,
            identity_entries=self.identity_cache_entries,
            identity_ttl_seconds=self.identity_ttl_seconds,
            identity_refresh_min_age_seconds=self.identity_min_age_seconds,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ValidatorConfig:
        """Read the config; raises ``ConfigError`` naming the first bad variable."""
        env = os.environ if environ is None else environ
        runtime = RuntimeConfig.from_env(env, service=SERVICE, grpc_port=50052, ops_port=9102)
        return cls(runtime=runtime, **read_env_fields(cls, env, service=SERVICE))
