"""Schema migrations for the indexer's Postgres database.

Migrations are the numbered `*.sql` files beside this module, applied in name order, each in its own
transaction, recorded in `schema_migrations`. An advisory lock serialises concurrent runners (several
indexer replicas, or `./dev up` racing a test), so each file is applied exactly once.
"""

from __future__ import annotations

from importlib import resources

import asyncpg

__all__ = ["apply_migrations", "migration_names"]

# Arbitrary constant shared by every runner of this schema.
_LOCK_KEY = 7_301_202_611


def migration_names() -> list[str]:
    """The migration files shipped with this package, in the order they apply."""
    files = resources.files(__name__)
    return sorted(f.name for f in files.iterdir() if f.name.endswith(".sql"))


def _migration_sql(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


async def apply_migrations(dsn: str) -> list[str]:
    """Apply every pending migration; return the names applied by this call."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            applied: list[str] = []
            for name in migration_names():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(_migration_sql(name))
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
