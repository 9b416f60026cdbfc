"""Per-service memory limits: defaults, parsing and overrides.

Limits are what the supervisor enforces by polling RSS (process plus its children). The defaults
match the k3s manifests' memory limits so a leak shows up on a laptop the way it would in the
cluster. Override one with ``RELAY_DEVSTACK_<SERVICE>_MEMORY_LIMIT=768MiB`` or
``--memory-limit indexer=2GiB``; a flag beats the environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from relay_devstack.errors import InvalidMemoryLimit

__all__ = ["DEFAULT_MEMORY_LIMITS", "format_bytes", "memory_limits", "parse_memory_limit"]

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB

DEFAULT_MEMORY_LIMITS: Mapping[str, int] = {
    "slurper": 512 * _MIB,
    "validator": 512 * _MIB,
    "resolver": 256 * _MIB,
    "indexer": 1 * _GIB,
    "firehose": 512 * _MIB,
    "admin": 128 * _MIB,
}
"""Bytes per service; the indexer gets the most because RocksDB's block cache lives in-process."""

# Every suffix is binary (K = KiB), as in Docker and Kubernetes' "Mi"/"Gi": nobody means 10^6 here.
_UNITS: Mapping[str, int] = {
    "": 1, "b": 1,
    "k": _KIB, "kb": _KIB, "ki": _KIB, "kib": _KIB,
    "m": _MIB, "mb": _MIB, "mi": _MIB, "mib": _MIB,
    "g": _GIB, "gb": _GIB, "gi": _GIB, "gib": _GIB,
}  # fmt: skip
_LIMIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory_limit(text: str) -> int:
    """Parse ``"512MiB"``, ``"1G"``, ``"256m"`` or plain bytes into a byte count.

    Raises:
        InvalidMemoryLimit: not a positive size with a known unit.
    """
    match = _LIMIT_RE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise InvalidMemoryLimit(f"memory limit {text!r} is not like 512MiB, 1GiB or 1048576")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= 0:
        raise InvalidMemoryLimit(f"memory limit {text!r} must be positive")
    return value


def memory_limits(
    environ: Mapping[str, str],
    overrides: Iterable[str] = (),
    defaults: Mapping[str, int] = DEFAULT_MEMORY_LIMITS,
) -> dict[str, int]:
    """Resolve each service's limit: ``defaults`` < environment < ``overrides`` (``name=size``).

    Raises:
        InvalidMemoryLimit: an override names an unknown service or has a bad size.
    """
    limits = dict(defaults)
    for name in limits:
        key = f"RELAY_DEVSTACK_{name.upper()}_MEMORY_LIMIT"
        if key in environ:
            try:
                limits[name] = parse_memory_limit(environ[key])
            except InvalidMemoryLimit as exc:
                raise InvalidMemoryLimit(f"{key}: {exc}") from exc
    for override in overrides:
        name, sep, size = override.partition("=")
        if not sep or name not in limits:
            raise InvalidMemoryLimit(
                f"--memory-limit {override!r}: expected <service>=<size>, service one of {sorted(limits)}"
            )
        limits[name] = parse_memory_limit(size)
    return limits


def format_bytes(value: int) -> str:
    """``536870912`` → ``"512 MiB"``; for log lines and the status table."""
    for unit, size in (("GiB", _GIB), ("MiB", _MIB), ("KiB", _KIB)):
        if value >= size:
            return f"{value / size:.0f} {unit}" if value % size == 0 else f"{value / size:.1f} {unit}"
    return f"{value} B"
