"""Upstream hosts in Postgres: registry, statuses and the slurper's resume cursors."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from relay_indexer.host import Host, HostLimits, HostStatus, HostUpsert

__all__ = ["HostStore"]

_COLUMNS = (
    "id, hostname, status, status_reason, trusted, no_tls, account_limit, rate_limits, cursor,"
    " account_count, created_at, last_seen_at"
)


def _micros(ts: datetime | None) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1_000_000)


def _host(row: asyncpg.Record) -> Host:
    rates = json.loads(row["rate_limits"]) if row["rate_limits"] else {}
    return Host(
        id=row["id"],
        hostname=row["hostname"],
        status=HostStatus(row["status"]),
        status_reason=row["status_reason"],
        trusted=row["trusted"],
        no_tls=row["no_tls"],
        limits=HostLimits(
            account_limit=row["account_limit"],
            events_per_second=rates.get("per_second", 0),
            events_per_hour=rates.get("per_hour", 0),
            events_per_day=rates.get("per_day", 0),
        ),
        cursor=row["cursor"],
        account_count=row["account_count"],
        created_at_us=_micros(row["created_at"]) or 0,
        last_seen_at_us=_micros(row["last_seen_at"]),
    )


def _rate_limits_json(limits: HostLimits) -> str | None:
    rates = {
        "per_second": limits.events_per_second,
        "per_hour": limits.events_per_hour,
        "per_day": limits.events_per_day,
    }
    return json.dumps(rates) if any(rates.values()) else None


class HostStore:
    """The hosts table. Hostnames are expected already normalised (`host.normalize_hostname`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_hosts(
        self, *, after_id: int | None, limit: int, statuses: Collection[HostStatus] = ()
    ) -> list[Host]:
        """Hosts in the order they were first seen (oldest first), strictly after `after_id`."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM hosts WHERE id > $1"
            " AND (cardinality($2::text[]) = 0 OR status = ANY($2::text[])) ORDER BY id LIMIT $3",
            after_id or 0,
            [s.value for s in statuses],
            limit,
        )
        return [_host(r) for r in rows]

    async def get_host(self, hostname: str) -> Host | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM hosts WHERE hostname = $1", hostname)
        return _host(row) if row else None

    async def upsert_host(self, host: HostUpsert) -> tuple[Host, bool]:
        """Create or update a host's settings; returns it and whether it was created."""
        row = await self._pool.fetchrow(
            "INSERT INTO hosts AS h (hostname, status, status_reason, trusted, no_tls, account_limit,"
            " rate_limits) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
            " ON CONFLICT (hostname) DO UPDATE SET status = EXCLUDED.status,"
            " status_reason = EXCLUDED.status_reason, trusted = EXCLUDED.trusted,"
            " no_tls = EXCLUDED.no_tls, account_limit = EXCLUDED.account_limit,"
            " rate_limits = EXCLUDED.rate_limits, updated_at = now()"
            f" RETURNING {_COLUMNS.replace('id,', 'h.id,', 1)}, (h.xmax = 0) AS created",
            host.hostname,
            host.status.value,
            host.status_reason,
            host.trusted,
            host.no_tls,
            host.limits.account_limit,
            _rate_limits_json(host.limits),
        )
        return _host(row), bool(row["created"])

    async def set_host_status(self, hostname: str, status: HostStatus, reason: str | None) -> Host | None:
        """Change a host's status; None when the host is unknown."""
        row = await self._pool.fetchrow(
            "UPDATE hosts SET status = $2, status_reason = $3, updated_at = now() WHERE hostname = $1"
            f" RETURNING {_COLUMNS}",
            hostname,
            status.value,
            reason,
        )
        return _host(row) if row else None

    async def set_host_cursors(self, cursors: Sequence[tuple[str, int]]) -> int:
        """Checkpoint resume cursors for many hosts in one statement; returns hosts updated.

        The last value per host wins: the slurper only reports cursors JetStream has acked.
        """
        latest = dict(cursors)
        if not latest:
            return 0
        names = sorted(latest)
        result: str = await self._pool.execute(
            "UPDATE hosts h SET cursor = c.cursor, last_seen_at = now()"
            " FROM unnest($1::text[], $2::bigint[]) AS c(hostname, cursor) WHERE h.hostname = c.hostname",
            names,
            [latest[n] for n in names],
        )
        return int(result.split()[-1])
