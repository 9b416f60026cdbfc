from __future__ import annotations

import pytest
from relay_admin.config import AdminConfig
from relay_firehose.config import FirehoseConfig
from relay_indexer.config import IndexerConfig
from relay_runtime.config import (
    RuntimeConfig,
    config_for_log,
    parse_bool,
    parse_duration_seconds,
    parse_int,
    parse_list,
    redact_url,
)
from relay_runtime.errors import ConfigError
from relay_slurper.config import SlurperConfig
from relay_validator.config import ValidatorConfig


@pytest.mark.parametrize(("raw", "want"), [("true", True), ("1", True), ("FALSE", False), ("0", False)])
def test_parse_bool_accepts_only_four_spellings(raw: str, want: bool) -> None:
    assert parse_bool("K", raw) is want


@pytest.mark.parametrize("raw", ["yes", "on", "", "2", "tru"])
def test_parse_bool_rejects_everything_else_naming_key_and_value(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_bool("RELAY_DEV_MODE", raw)
    assert info.value.key == "RELAY_DEV_MODE"
    assert repr(raw) in str(info.value)


def test_parse_int_and_errors() -> None:
    assert parse_int("K", " 10_000 ") == 10_000
    with pytest.raises(ConfigError, match="K='12x'"):
        parse_int("K", "12x")


@pytest.mark.parametrize(
    ("raw", "seconds"), [("250ms", 0.25), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1.5", 1.5)]
)
def test_parse_duration(raw: str, seconds: float) -> None:
    assert parse_duration_seconds("K", raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["5 minutes", "-1s", "1w", "s"])
def test_parse_duration_rejects(raw: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration_seconds("K", raw)


def test_parse_list_trims_and_drops_empties() -> None:
    assert parse_list("K", " a, b ,,c ") == ("a", "b", "c")


def test_redact_url_hides_password_and_query() -> None:
    assert redact_url("postgres://relay:hunter2@db:5432/relay") == "postgres://relay:***@db:5432/relay"
    assert redact_url("nats://tok@127.0.0.1:4222") == "nats://***@127.0.0.1:4222"
    assert redact_url("https://x.example/hook?token=abc") == "https://x.example/hook?***"
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_runtime_config_reads_service_prefixed_ports_and_shared_keys() -> None:
    env = {
        "RELAY_SLURPER_GRPC_PORT": "6000",
        "NATS_URL": "nats://a:4222,nats://b:4222",
        "LOG_LEVEL": "debug",
        "RELAY_DEV_MODE": "1",
        "RELAY_SHUTDOWN_GRACE_SECONDS": "2s",
        "RELAY_VALIDATOR_GRPC_PORT": "7000",
    }
    config = RuntimeConfig.from_env(env, service="slurper", grpc_port=50051, ops_port=9101)
    assert (config.grpc_port, config.ops_port) == (6000, 9101)
    assert config.dev_mode is True
    assert config.shutdown_grace_seconds == 2.0
    assert config.log_level_number == 10


def test_runtime_config_validation_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="RELAY_ADMIN_OPS_PORT"):
        RuntimeConfig.from_env({"RELAY_ADMIN_OPS_PORT": "70000"}, service="admin", grpc_port=1, ops_port=2)
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        RuntimeConfig.from_env({"LOG_LEVEL": "LOUD"}, service="admin", grpc_port=1, ops_port=2)


def test_empty_variable_means_default() -> None:
    config = SlurperConfig.from_env({"RELAY_SLURPER_HTTP_PORT": "  "})
    assert config.http_port == 2471
    assert config.runtime.grpc_port == 50051


def test_service_configs_read_their_own_fields() -> None:
    config = FirehoseConfig.from_env({"RELAY_FIREHOSE_REPLAY_WINDOW_SECONDS": "24h"})
    assert config.replay_window_seconds == 86400
    assert ValidatorConfig.from_env({"RELAY_RAW_PARTITIONS": "16"}).raw_partitions == 16
    with pytest.raises(ConfigError, match="RELAY_RAW_PARTITIONS"):
        ValidatorConfig.from_env({"RELAY_RAW_PARTITIONS": "0"})


def test_config_for_log_redacts_secrets_and_url_passwords() -> None:
    admin = AdminConfig.from_env({"RELAY_ADMIN_TOKENS": "s3cret-0123456789,0ther-0123456789"})
    logged = config_for_log(admin)
    assert logged["tokens"] == "***"
    assert "s3cret" not in repr(logged) and "0ther" not in repr(logged)
    indexer = IndexerConfig.from_env({"DATABASE_URL": "postgresql://u:pw@/relay?host=/tmp"})
    logged = config_for_log(indexer)
    assert "pw" not in logged["database_url"]
    assert logged["runtime.service"] == "indexer"
