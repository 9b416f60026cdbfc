"""Errors raised by relay_runtime.

Hierarchy::

    RelayRuntimeError
    ├── ConfigError         an env var is missing a valid value (names the key and the bad value)
    └── StreamSetupError    a JetStream stream/consumer could not be created or updated

Kept separate from ``relay_core.errors`` because these are about how a process lives, not
about the protocol.
"""

from __future__ import annotations

__all__ = ["ConfigError", "RelayRuntimeError", "StreamSetupError"]


class RelayRuntimeError(Exception):
    """Root of every error relay_runtime raises on purpose."""


class ConfigError(RelayRuntimeError, ValueError):
    """An environment variable holds a value we refuse to guess about."""

    def __init__(self, key: str, value: str, expected: str) -> None:
        super().__init__(f"{key}={value!r}: expected {expected}")
        self.key = key
        self.value = value
        self.expected = expected


class StreamSetupError(RelayRuntimeError):
    """Creating or updating a JetStream stream or consumer failed for good."""
