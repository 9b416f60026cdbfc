"""The indexer's Postgres connection pool: one per process, shared by the stores."""

from __future__ import annotations

import asyncpg

__all__ = ["close_pool", "open_pool"]


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's session reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL).

    That reset is one more round trip on every release, so on every statement the stores send
    through the pool; nothing here leaves session state behind (no advisory locks, LISTEN, SET or
    held cursors on pool connections: migrations use a connection of their own). asyncpg still
    rolls back a transaction left open.
    """


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    """Open a pool; fails fast if Postgres is unreachable so readiness reflects it."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=_keep_session)
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool) -> None:
    await pool.close()
