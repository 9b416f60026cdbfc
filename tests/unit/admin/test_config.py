"""Admin config: tokens are mandatory outside dev mode and never logged; peer addresses."""

from __future__ import annotations

import json

import pytest
from relay_admin.config import AdminConfig
from relay_runtime.config import config_for_log
from relay_runtime.errors import ConfigError

TOKEN = "0123456789abcdef-secret"


def test_tokens_are_comma_separated_and_redacted_in_the_startup_log() -> None:
    config = AdminConfig.from_env({"RELAY_ADMIN_TOKENS": f"{TOKEN}, {TOKEN}-next ,"})
    assert config.tokens == (TOKEN, f"{TOKEN}-next")
    assert config.auth_required
    logged = json.dumps(config_for_log(config))
    assert TOKEN not in logged
    assert '"tokens": "***"' in logged


def test_no_token_refuses_to_start_outside_dev_mode() -> None:
    with pytest.raises(ConfigError, match="RELAY_ADMIN_TOKENS"):
        AdminConfig.from_env({})


def test_dev_mode_without_token_is_an_open_api() -> None:
    config = AdminConfig.from_env({"RELAY_DEV_MODE": "true"})
    assert not config.auth_required


def test_short_tokens_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        AdminConfig.from_env({"RELAY_ADMIN_TOKENS": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_peer_addresses_default_to_the_dev_ports_or_follow_their_grpc_port() -> None:
    env = {
        "RELAY_ADMIN_TOKENS": TOKEN,
        "RELAY_INDEXER_GRPC_PORT": "60054",
        "RELAY_SLURPER_GRPC_PORT": "60051",
        "RELAY_SLURPER_ADDRESS": "slurper.relay.svc:50051",
    }
    config = AdminConfig.from_env(env)
    assert config.peer_address("indexer") == "127.0.0.1:60054"
    assert config.peer_address("slurper") == "slurper.relay.svc:50051"
    assert config.peer_address("firehose") == "127.0.0.1:50055"
    assert config.peer_address("validator") == "127.0.0.1:50052"
    assert config.runtime.grpc_port == 50056


def test_peer_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="RELAY_ADMIN_PEER_TIMEOUT_SECONDS"):
        AdminConfig.from_env({"RELAY_ADMIN_TOKENS": TOKEN, "RELAY_ADMIN_PEER_TIMEOUT_SECONDS": "0"})
    config = AdminConfig.from_env({"RELAY_ADMIN_TOKENS": TOKEN, "RELAY_ADMIN_PEER_TIMEOUT_SECONDS": "500ms"})
    assert config.peer_timeout_seconds == 0.5
