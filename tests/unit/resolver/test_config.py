from __future__ import annotations

import pytest
from relay_resolver.config import ResolverConfig
from relay_runtime.errors import ConfigError


def test_defaults_build_the_domain_policies() -> None:
    config = ResolverConfig.from_env({})
    assert config.runtime.grpc_port == 50053 and config.runtime.ops_port == 9103
    policy = config.cache_policy()
    assert policy.max_entries == 100_000 and policy.ttl_seconds == 3600.0
    assert policy.error_ttl_seconds < policy.ttl_seconds
    limits = config.http_limits()
    assert limits.max_connections == policy.max_concurrent_fetches
    assert limits.max_document_bytes == 64 * 1024


def test_env_overrides_with_units() -> None:
    config = ResolverConfig.from_env(
        {
            "RELAY_RESOLVER_CACHE_MAX_ENTRIES": "5000",
            "RELAY_RESOLVER_CACHE_TTL_SECONDS": "30m",
            "RELAY_RESOLVER_ERROR_TTL_SECONDS": "90s",
            "RELAY_DEV_MODE": "true",
            "RELAY_RESOLVER_PLC_URL": "http://127.0.0.1:2582",
        }
    )
    assert config.cache_policy().max_entries == 5000
    assert config.cache_ttl_seconds == 1800.0 and config.error_ttl_seconds == 90.0
    assert config.plc_url == "http://127.0.0.1:2582"


def test_plain_http_directory_only_in_dev_mode() -> None:
    with pytest.raises(ConfigError, match="RELAY_RESOLVER_PLC_URL"):
        ResolverConfig.from_env({"RELAY_RESOLVER_PLC_URL": "http://127.0.0.1:2582"})
    with pytest.raises(ConfigError, match="RELAY_RESOLVER_PLC_URL"):
        ResolverConfig.from_env({"RELAY_RESOLVER_PLC_URL": "ftp://plc.example", "RELAY_DEV_MODE": "1"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RELAY_RESOLVER_CACHE_MAX_ENTRIES", "0"),
        ("RELAY_RESOLVER_CACHE_MAX_ENTRIES", "lots"),
        ("RELAY_RESOLVER_MAX_PENDING_FETCHES", "4"),
        ("RELAY_RESOLVER_HTTP_TIMEOUT_SECONDS", "0"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        ResolverConfig.from_env({key: value})
