"""Operator policy in Postgres: domain bans and relay settings that must survive restarts."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import asyncpg

from relay_indexer.host import DomainBan

__all__ = ["PolicyStore", "is_banned"]


def is_banned(hostname: str, banned_domains: Collection[str]) -> bool:
    """True when `hostname` is a banned domain or any name under one (`a.b.example.com`)."""
    name = hostname.split(":", 1)[0]
    labels = name.split(".")
    return any(".".join(labels[i:]) in banned_domains for i in range(len(labels)))


def _ban(row: asyncpg.Record) -> DomainBan:
    return DomainBan(
        domain=row["suffix"],
        reason=row["reason"],
        created_at_us=int(row["created_at"].timestamp() * 1_000_000),
    )


class PolicyStore:
    """The domain_bans and relay_settings tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_domain_bans(self) -> list[DomainBan]:
        rows = await self._pool.fetch("SELECT suffix, reason, created_at FROM domain_bans ORDER BY suffix")
        return [_ban(r) for r in rows]

    async def add_domain_ban(self, domain: str, reason: str | None) -> DomainBan:
        """Ban a domain suffix (idempotent; a repeated ban updates the reason)."""
        row = await self._pool.fetchrow(
            "INSERT INTO domain_bans (suffix, reason) VALUES ($1, $2)"
            " ON CONFLICT (suffix) DO UPDATE SET reason = EXCLUDED.reason"
            " RETURNING suffix, reason, created_at",
            domain,
            reason,
        )
        return _ban(row)

    async def remove_domain_ban(self, domain: str) -> bool:
        result: str = await self._pool.execute("DELETE FROM domain_bans WHERE suffix = $1", domain)
        return result.endswith(" 1")

    async def get_setting(self, key: str) -> Any:
        """The JSON value stored under `key`, or None when unset."""
        raw = await self._pool.fetchval("SELECT value::text FROM relay_settings WHERE key = $1", key)
        return None if raw is None else json.loads(raw)

    async def set_setting(self, key: str, value: Any) -> None:
        await self._pool.execute(
            "INSERT INTO relay_settings (key, value) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            key,
            json.dumps(value),
        )
