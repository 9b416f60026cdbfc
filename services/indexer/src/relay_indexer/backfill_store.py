"""Backfill jobs and their items in Postgres (`backfill_jobs`, `backfill_items`).

The cursor of an item is the resume point: `commit_page` advances it in the same statement that
adds the page's counts, and callers run it only after the page's index writes are durable, so a
restart resumes exactly after the last page whose data landed (a page redone after a crash is
counted once: its counts never reached Postgres the first time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from relay_indexer.backfill_job import BackfillKind, ItemProgress, JobRecord, JobState

__all__ = ["BackfillStore", "JobAlreadyRunning"]


class JobAlreadyRunning(Exception):
    """Only one job runs at a time (a unique partial index enforces it)."""


def _micros(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def _job(row: asyncpg.Record) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=BackfillKind(row["kind"]),
        source=row["source"],
        state=JobState(row["state"]),
        hosts=tuple(row["hosts"]),
        last_error=row["last_error"],
        created_at_us=_micros(row["created_at"]),
        updated_at_us=_micros(row["updated_at"]),
    )


def _item(row: asyncpg.Record) -> ItemProgress:
    return ItemProgress(
        item=row["item"],
        cursor=row["cursor"],
        done=row["done"],
        dids_seen=row["dids_seen"],
        dids_failed=row["dids_failed"],
        dids_total=row["dids_total"],
        bytes_fetched=row["bytes_fetched"],
        last_error=row["last_error"],
    )


class BackfillStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_job(
        self,
        kind: BackfillKind,
        *,
        source: str | None,
        hosts: Sequence[str],
        items: Sequence[tuple[str, int]],
    ) -> JobRecord:
        """Create a running job with `items` as (name, total estimate), walked in that order.

        Raises:
            JobAlreadyRunning: another job is running.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    "INSERT INTO backfill_jobs (kind, source, hosts) VALUES ($1, $2, $3) RETURNING *",
                    kind.value,
                    source,
                    list(hosts),
                )
            except asyncpg.UniqueViolationError as exc:
                raise JobAlreadyRunning("a backfill job is already running") from exc
            assert row is not None
            await conn.executemany(
                "INSERT INTO backfill_items (job_id, item, position, dids_total) VALUES ($1, $2, $3, $4)",
                [(row["id"], name, pos, total) for pos, (name, total) in enumerate(items)],
            )
            return _job(row)

    async def get_job(self, job_id: int) -> JobRecord | None:
        row = await self._pool.fetchrow("SELECT * FROM backfill_jobs WHERE id = $1", job_id)
        return _job(row) if row else None

    async def latest_job(self) -> JobRecord | None:
        row = await self._pool.fetchrow("SELECT * FROM backfill_jobs ORDER BY id DESC LIMIT 1")
        return _job(row) if row else None

    async def jobs_in_state(self, state: JobState) -> list[JobRecord]:
        rows = await self._pool.fetch("SELECT * FROM backfill_jobs WHERE state = $1 ORDER BY id", state.value)
        return [_job(r) for r in rows]

    async def items(self, job_id: int) -> list[ItemProgress]:
        rows = await self._pool.fetch(
            "SELECT * FROM backfill_items WHERE job_id = $1 ORDER BY position", job_id
        )
        return [_item(r) for r in rows]

    async def set_state(self, job_id: int, state: JobState, *, last_error: str | None = None) -> JobRecord:
        """Raises JobAlreadyRunning when moving to RUNNING while another job runs."""
        try:
            row = await self._pool.fetchrow(
                "UPDATE backfill_jobs SET state = $2, last_error = $3, updated_at = now()"
                " WHERE id = $1 RETURNING *",
                job_id,
                state.value,
                last_error,
            )
        except asyncpg.UniqueViolationError as exc:
            raise JobAlreadyRunning("a backfill job is already running") from exc
        if row is None:
            raise LookupError(f"no backfill job {job_id}")
        return _job(row)

    async def commit_page(
        self,
        job_id: int,
        item: str,
        *,
        cursor: str | None,
        done: bool,
        dids: int,
        failed: int,
        size_bytes: int,
    ) -> None:
        """Advance an item past a page whose index writes are already durable."""
        await self._pool.execute(
            "UPDATE backfill_items SET cursor = $3, done = $4, dids_seen = dids_seen + $5,"
            " dids_failed = dids_failed + $6, bytes_fetched = bytes_fetched + $7, last_error = NULL,"
            " updated_at = now() WHERE job_id = $1 AND item = $2",
            job_id,
            item,
            cursor,
            done,
            dids,
            failed,
            size_bytes,
        )

    async def fail_item(self, job_id: int, item: str, error: str) -> None:
        """Leave the item where it is (cursor kept) with the error; a resume retries it."""
        await self._pool.execute(
            "UPDATE backfill_items SET last_error = $3, updated_at = now() WHERE job_id = $1 AND item = $2",
            job_id,
            item,
            error,
        )
