"""Slurper config: the upstream bootstrap's knobs are read strictly and validated."""

from __future__ import annotations

import pytest
from relay_runtime.errors import ConfigError
from relay_slurper.config import SlurperConfig


def test_upstream_admit_concurrency_defaults_and_reads_from_env() -> None:
    assert SlurperConfig.from_env({}).upstream_admit_concurrency == 32
    config = SlurperConfig.from_env({"RELAY_SLURPER_UPSTREAM_ADMIT_CONCURRENCY": "8"})
    assert config.upstream_admit_concurrency == 8


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RELAY_SLURPER_UPSTREAM_ADMIT_CONCURRENCY", "0"),
        ("RELAY_SLURPER_UPSTREAM_ADMIT_CONCURRENCY", "many"),
        ("RELAY_SLURPER_PROBE_TIMEOUT_SECONDS", "0"),
    ],
)
def test_bad_bootstrap_settings_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        SlurperConfig.from_env({key: value})
