"""Environment-driven configuration shared by every service.

Each service declares one frozen dataclass whose fields are created with :func:`env_field`, which
records the env var name next to the default. :func:`read_env_fields` turns the environment into
constructor arguments with strict casts, and the docs test reads the same metadata to check that
``docs/config.md`` lists every variable. Env names may contain ``{SERVICE}``, filled with the
upper-cased service name, for settings every service has under its own prefix (ports).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from relay_runtime.errors import ConfigError

__all__ = [
    "RuntimeConfig",
    "config_for_log",
    "env_field",
    "env_fields",
    "parse_bool",
    "parse_duration_seconds",
    "parse_int",
    "parse_list",
    "read_env_fields",
    "redact_url",
]

_ENV: Final = "env"
_SECRET: Final = "secret"
_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SECRET_WORDS: Final = ("token", "secret", "password", "key")


def env_field(default: Any, *, env: str, secret: bool = False) -> Any:
    """Declare a config field read from ``env`` (``{SERVICE}`` is expanded per service).

    Args:
        default: Value used when the variable is unset or empty. Tuples for list fields.
        env: The environment variable name.
        secret: Redact the value in the startup log line.
    """
    return dataclasses.field(default=default, metadata={_ENV: env, _SECRET: secret})


def parse_bool(key: str, raw: str) -> bool:
    """Only ``true``/``1``/``false``/``0`` (any case): ``yes`` or ``on`` are typos we refuse."""
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ConfigError(key, raw, "one of true, false, 1, 0")


def parse_int(key: str, raw: str) -> int:
    """A base-10 integer; underscores allowed as separators (``10_000``)."""
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(key, raw, "an integer") from None


def parse_float(key: str, raw: str) -> float:
    """A decimal number."""
    try:
        return float(raw.strip())
    except ValueError:
        raise ConfigError(key, raw, "a number") from None


def parse_duration_seconds(key: str, raw: str) -> float:
    """``250ms``, ``30s``, ``5m``, ``2h``, ``1d`` or a bare number of seconds."""
    match = _DURATION_RE.match(raw)
    if match is None:
        raise ConfigError(key, raw, "a duration such as 250ms, 30s, 5m, 2h, 1d or seconds")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_list(key: str, raw: str) -> tuple[str, ...]:
    """Comma-separated; blanks around items are trimmed and empty items dropped."""
    del key  # every string list is valid; the parameter keeps the parser signatures uniform
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def redact_url(url: str) -> str:
    """Hide the password (and query string, where tokens hide) of a URL for logging."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"***@{hostport}"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def env_fields(cls: type[Any], *, service: str) -> dict[str, str]:
    """Map each env-backed field name of ``cls`` to its expanded env var name."""
    return {
        f.name: f.metadata[_ENV].replace("{SERVICE}", service.upper())
        for f in dataclasses.fields(cls)
        if _ENV in f.metadata
    }


def _cast(key: str, raw: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _cast(key, raw, args[0])
    if origin is tuple:
        return parse_list(key, raw)
    if hint is bool:
        return parse_bool(key, raw)
    if hint is int:
        return parse_int(key, raw)
    if hint is float:
        return parse_duration_seconds(key, raw) if key.endswith("_SECONDS") else parse_float(key, raw)
    if hint is str:
        return raw
    raise TypeError(f"config field for {key} has unsupported type {hint!r}")


def read_env_fields(cls: type[Any], environ: Mapping[str, str], *, service: str) -> dict[str, Any]:
    """Constructor arguments for ``cls`` from the env vars that are set and non-empty.

    Unset or empty variables are left out so the dataclass defaults apply.

    Raises:
        ConfigError: a variable is set to a value its field's type does not accept.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, key in env_fields(cls, service=service).items():
        raw = environ.get(key, "")
        if raw.strip() == "":
            continue
        values[name] = _cast(key, raw, hints[name])
    return values


def config_for_log(config: Any) -> dict[str, Any]:
    """Flatten a config dataclass for the single startup log line, secrets redacted."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update({f"{f.name}.{k}": v for k, v in config_for_log(value).items()})
            continue
        if f.metadata.get(_SECRET) or any(w in f.name for w in _SECRET_WORDS):
            value = "***" if value else value
        elif isinstance(value, str) and "://" in value:
            value = redact_url(value)
        out[f.name] = value
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeConfig:
    """Process settings every service has: where it listens, how it logs and traces."""

    service: str
    """Short service name (``slurper``, ``validator``, ...); labels logs, metrics and traces."""

    bind_host: str = env_field("127.0.0.1", env="RELAY_BIND_HOST")
    """Address the gRPC and ops servers bind; loopback by default, ``0.0.0.0`` in containers."""

    grpc_port: int = env_field(0, env="RELAY_{SERVICE}_GRPC_PORT")
    """gRPC API port (see docs/ports.md for each service's default; 0 picks a free port)."""

    ops_port: int = env_field(0, env="RELAY_{SERVICE}_OPS_PORT")
    """Ops HTTP port serving /healthz, /readyz and /metrics (0 picks a free port)."""

    nats_url: str = env_field("nats://127.0.0.1:4222", env="NATS_URL")
    """NATS server URL(s), comma-separated for a cluster; credentials in it are redacted in logs."""

    log_level: str = env_field("INFO", env="LOG_LEVEL")
    """Root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    dev_mode: bool = env_field(False, env="RELAY_DEV_MODE")
    """Relaxations for the local dev stack (e.g. plain-HTTP PDS hosts); never in production."""

    otel_endpoint: str = env_field("", env="OTEL_EXPORTER_OTLP_ENDPOINT")
    """OTLP gRPC collector endpoint; empty keeps tracing in-process (context still propagates)."""

    shutdown_grace_seconds: float = env_field(10.0, env="RELAY_SHUTDOWN_GRACE_SECONDS")
    """How long in-flight gRPC calls and drains may take on SIGTERM before being cut."""

    def __post_init__(self) -> None:
        prefix = f"RELAY_{self.service.upper()}"
        for key, port in ((f"{prefix}_GRPC_PORT", self.grpc_port), (f"{prefix}_OPS_PORT", self.ops_port)):
            if not 0 <= port <= 65535:
                raise ConfigError(key, str(port), "a port between 0 and 65535")
        if self.log_level.upper() not in _LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", self.log_level, "one of " + ", ".join(_LOG_LEVELS))
        if self.shutdown_grace_seconds < 0:
            raise ConfigError("RELAY_SHUTDOWN_GRACE_SECONDS", str(self.shutdown_grace_seconds), ">= 0")

    @property
    def log_level_number(self) -> int:
        """The ``logging`` module's number for :attr:`log_level`."""
        return logging.getLevelNamesMapping()[self.log_level.upper()]

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        service: str,
        grpc_port: int,
        ops_port: int,
    ) -> RuntimeConfig:
        """Read the shared settings for ``service``; ``grpc_port``/``ops_port`` are its defaults.

        Raises:
            ConfigError: a variable holds a value of the wrong shape.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"grpc_port": grpc_port, "ops_port": ops_port}
        values.update(read_env_fields(cls, env, service=service))
        return cls(service=service, **values)
