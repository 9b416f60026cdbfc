"""Upstream hosts (PDSes) and domain bans, as stored by the indexer."""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.statuses import HostStatus

__all__ = ["DomainBan", "Host", "HostLimits", "HostStatus", "HostUpsert", "normalize_hostname"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostLimits:
    """Per-host overrides; zero means "use the relay-wide default", not "unlimited"."""

    account_limit: int = 0
    events_per_second: int = 0
    events_per_hour: int = 0
    events_per_day: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    """A PDS the relay knows about. `cursor` is the last upstream seq safely in JetStream."""

    id: int
    hostname: str
    status: HostStatus
    status_reason: str | None
    trusted: bool
    no_tls: bool
    limits: HostLimits
    cursor: int
    account_count: int
    created_at_us: int
    last_seen_at_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HostUpsert:
    """What a caller may set on a host; the counters and timestamps are the store's own."""

    hostname: str
    status: HostStatus = HostStatus.ACTIVE
    trusted: bool = False
    no_tls: bool = False
    limits: HostLimits = HostLimits()
    status_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainBan:
    """Banning `example.com` refuses the host itself and every name under it."""

    domain: str
    reason: str | None
    created_at_us: int


def normalize_hostname(raw: str) -> str:
    """Fold a hostname the way it is keyed in the store (DNS names are case-insensitive).

    Raises:
        ValueError: empty, or carries a scheme/path (hostnames here are never URLs).
    """
    name = raw.strip().lower().rstrip(".")
    if not name or "/" in name or " " in name:
        raise ValueError(f"not a hostname: {raw!r}")
    return name
