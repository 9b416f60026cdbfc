"""The indexer's Postgres connection pool: one per process, shared by the stores."""

from __future__ import annotations

import asyncpg

__all__ = ["close_pool", "open_pool"]


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    """Open a pool; fails fast if Postgres is unreachable so readiness reflects it."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool) -> None:
    await pool.close()
