"""Memory limit parsing and override precedence."""

from __future__ import annotations

import pytest
from relay_devstack.errors import InvalidMemoryLimit
from relay_devstack.limits import DEFAULT_MEMORY_LIMITS, format_bytes, memory_limits, parse_memory_limit
from relay_devstack.stack import SERVICE_NAMES

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512MiB", 512 * MIB),
        ("512Mi", 512 * MIB),
        ("512m", 512 * MIB),
        ("1G", 1024 * MIB),
        ("1.5GiB", 1536 * MIB),
        ("64 KiB", 64 * 1024),
        ("1048576", MIB),
        ("100b", 100),
    ],
)
def test_parse_memory_limit(text: str, expected: int) -> None:
    assert parse_memory_limit(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-5M", "12 parsecs", "M", "1TB"])
def test_bad_memory_limits_are_rejected(text: str) -> None:
    with pytest.raises(InvalidMemoryLimit):
        parse_memory_limit(text)


def test_every_service_has_a_default() -> None:
    assert set(DEFAULT_MEMORY_LIMITS) == set(SERVICE_NAMES)
    assert DEFAULT_MEMORY_LIMITS["indexer"] == 1024 * MIB
    assert DEFAULT_MEMORY_LIMITS["admin"] == 128 * MIB


def test_flag_beats_env_beats_default() -> None:
    env = {"RELAY_DEVSTACK_INDEXER_MEMORY_LIMIT": "2GiB", "RELAY_DEVSTACK_ADMIN_MEMORY_LIMIT": "64MiB"}
    limits = memory_limits(env, ["admin=32MiB"])
    assert limits["indexer"] == 2048 * MIB
    assert limits["admin"] == 32 * MIB
    assert limits["slurper"] == DEFAULT_MEMORY_LIMITS["slurper"]


def test_bad_override_names_the_problem() -> None:
    with pytest.raises(InvalidMemoryLimit, match="service one of"):
        memory_limits({}, ["nosuch=1G"])
    with pytest.raises(InvalidMemoryLimit, match="RELAY_DEVSTACK_SLURPER_MEMORY_LIMIT"):
        memory_limits({"RELAY_DEVSTACK_SLURPER_MEMORY_LIMIT": "lots"})


def test_format_bytes() -> None:
    assert format_bytes(512 * MIB) == "512 MiB"
    assert format_bytes(1024 * MIB) == "1 GiB"
    assert format_bytes(1536 * MIB) == "1.5 GiB"
    assert format_bytes(10) == "10 B"
