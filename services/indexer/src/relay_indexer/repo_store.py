"""Accounts and repo heads in Postgres (asyncpg), read and written in batches.

Every method takes whole batches and costs a fixed number of round trips, whatever the batch size
(`unnest` of arrays; PERF-NOTES: ~97k rows/s in batches of 1,000 against ~3.6k/s one by one). The
writes on the ingest path are one statement each, so one round trip. Host account counts are kept
in step with account rows inside the same statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg
from relay_core.syntax import Did

from relay_indexer.account import LOCAL_STATUSES, Account, AccountStatus, AccountUpdate, RepoHead
from relay_indexer.errors import InvalidUpdate, UnknownHost

__all__ = ["RepoStore"]

_SELECT_ACCOUNTS = """
SELECT a.did, h.hostname, a.handle, a.local_status, a.upstream_status, a.desynchronized,
       GREATEST(a.updated_at, r.updated_at) AS updated_at, r.rev, r.commit_cid, r.data_cid
FROM accounts a
LEFT JOIN hosts h ON h.id = a.host_id
LEFT JOIN repo_state r ON r.did = a.did
"""


_UPSERT_ACCOUNTS = """
WITH t AS (
    SELECT u.did, u.host, h.id AS host_id, u.status, u.desync, u.rev, u.commit_cid, u.data_cid
    FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[])
        AS u(did, host, status, desync, rev, commit_cid, data_cid)
    LEFT JOIN hosts h ON h.hostname = u.host
),
unknown AS (SELECT DISTINCT host FROM t WHERE host IS NOT NULL AND host_id IS NULL),
old AS (
    SELECT a.did, a.host_id FROM accounts a
    WHERE a.did = ANY($1::text[]) AND NOT EXISTS (SELECT FROM unknown)
    ORDER BY a.did FOR UPDATE OF a
),
updated AS (
    UPDATE accounts a SET host_id = COALESCE(t.host_id, a.host_id),
        upstream_status = COALESCE(t.status, a.upstream_status),
        desynchronized = COALESCE(t.desync, a.desynchronized), updated_at = now()
    FROM t JOIN old o ON o.did = t.did
    WHERE a.did = t.did
    RETURNING a.did, o.host_id AS old_host, a.host_id AS new_host
),
inserted AS (
    INSERT INTO accounts (did, host_id, upstream_status, desynchronized)
    SELECT t.did, t.host_id, COALESCE(t.status, 'active'), COALESCE(t.desync, FALSE) FROM t
    WHERE NOT EXISTS (SELECT FROM unknown) AND NOT EXISTS (SELECT FROM old WHERE old.did = t.did)
    ORDER BY t.did
    ON CONFLICT (did) DO NOTHING
    RETURNING did, host_id
),
written AS (SELECT did FROM old UNION ALL SELECT did FROM inserted),
heads AS (
    INSERT INTO repo_state (did, rev, commit_cid, data_cid)
    SELECT t.did, t.rev, t.commit_cid, t.data_cid FROM t JOIN written w ON w.did = t.did
    WHERE t.rev IS NOT NULL
    ON CONFLICT (did) DO UPDATE SET rev = EXCLUDED.rev, commit_cid = EXCLUDED.commit_cid,
        data_cid = EXCLUDED.data_cid, updated_at = now()
),
moves AS (
    SELECT new_host AS host_id, 1 AS delta FROM updated
    WHERE new_host IS DISTINCT FROM old_host AND new_host IS NOT NULL
    UNION ALL
    SELECT old_host, -1 FROM updated WHERE new_host IS DISTINCT FROM old_host AND old_host IS NOT NULL
    UNION ALL
    SELECT host_id, 1 FROM inserted WHERE host_id IS NOT NULL
),
counted AS (
    UPDATE hosts h SET account_count = GREATEST(h.account_count + d.delta, 0)
    FROM (SELECT host_id, sum(delta) AS delta FROM moves GROUP BY host_id HAVING sum(delta) <> 0) d
    WHERE h.id = d.host_id
)
SELECT ARRAY(SELECT host FROM unknown ORDER BY host) AS unknown,
       ARRAY(SELECT did FROM t WHERE did NOT IN (SELECT did FROM written)) AS raced
"""
"""Accounts and heads for one `upsert_accounts` call, atomically (one statement).

`old` locks the existing rows in DID order; they are updated field by field (NULL = not given),
the others inserted with defaults. Host account counts follow every insert and host move. Nothing
is written when a host is unknown (`unknown` lists them). `raced`: DIDs inserted by another writer
after this statement's snapshot (neither in `old` nor inserted here), to be sent again."""


_SET_UPSTREAM_STATUSES = """
WITH up AS (
    INSERT INTO accounts AS a (did, host_id, upstream_status)
    SELECT t.did, h.id, t.status
    FROM unnest($1::text[], $2::text[], $3::text[]) AS t(did, host, status)
    LEFT JOIN hosts h ON h.hostname = t.host
    ON CONFLICT (did) DO UPDATE SET upstream_status = EXCLUDED.upstream_status, updated_at = now()
    RETURNING a.did, a.local_status, a.host_id, (a.xmax = 0) AS inserted
),
counted AS (
    UPDATE hosts h SET account_count = h.account_count + d.n
    FROM (SELECT host_id, count(*) AS n FROM up WHERE inserted AND host_id IS NOT NULL GROUP BY host_id) d
    WHERE h.id = d.host_id
)
SELECT did, local_status FROM up
"""
"""#account statuses, one statement: unknown DIDs are created under the host the event came
from (counted there); returns every DID's local status."""


_ADD_ACCOUNTS_FROM_EVENTS = """
WITH t AS (
    SELECT t.did, h.id AS host_id, t.status
    FROM unnest($1::text[], $2::text[], $3::text[]) AS t(did, host, status)
    LEFT JOIN hosts h ON h.hostname = t.host
),
added AS (
    INSERT INTO accounts (did, host_id, upstream_status)
    SELECT did, host_id, status FROM t ORDER BY did
    ON CONFLICT (did) DO NOTHING
    RETURNING did, host_id
),
counted AS (
    UPDATE hosts h SET account_count = h.account_count + d.n
    FROM (SELECT host_id, count(*) AS n FROM added WHERE host_id IS NOT NULL GROUP BY host_id) d
    WHERE h.id = d.host_id
)
SELECT t.did, COALESCE(a.local_status, 'active') AS local_status
FROM t LEFT JOIN accounts a ON a.did = t.did
"""
"""Like `_SET_UPSTREAM_STATUSES` but an existing row's upstream status is left alone (see
`add_accounts_from_events`). A row added by this statement is not visible to its own join, and
a new row's local status is 'active'."""


def _micros(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def _account(row: asyncpg.Record) -> Account:
    head = None
    if row["rev"] is not None:
        head = RepoHead(rev=row["rev"], commit_cid=row["commit_cid"], data_cid=row["data_cid"])
    return Account(
        did=Did(row["did"]),
        host=row["hostname"],
        handle=row["handle"],
        local_status=AccountStatus(row["local_status"]),
        upstream_status=AccountStatus(row["upstream_status"]),
        desynchronized=row["desynchronized"],
        head=head,
        updated_at_us=_micros(row["updated_at"]),
    )


def _merge(updates: Iterable[AccountUpdate]) -> dict[Did, AccountUpdate]:
    """One update per DID (a batch may carry several): later fields win, unset ones carry over."""
    merged: dict[Did, AccountUpdate] = {}
    for u in updates:
        prev = merged.get(u.did)
        if prev is not None:
            u = AccountUpdate(
                did=u.did,
                host=u.host if u.host is not None else prev.host,
                upstream_status=u.upstream_status if u.upstream_status is not None else prev.upstream_status,
                head=u.head if u.head is not None else prev.head,
                desynchronized=u.desynchronized if u.desynchronized is not None else prev.desynchronized,
            )
        merged[u.did] = u
    return merged


class RepoStore:
    """Account rows, their statuses and repo heads."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get_accounts(self, dids: Sequence[Did]) -> dict[Did, Account]:
        """Known accounts among `dids` (unknown ones are simply absent), one round trip."""
        rows = await self._pool.fetch(_SELECT_ACCOUNTS + "WHERE a.did = ANY($1::text[])", list(dids))
        return {Did(r["did"]): _account(r) for r in rows}

    async def get_account(self, did: Did) -> Account | None:
        return (await self.get_accounts([did])).get(did)

    async def list_repos(self, *, after: Did | None, limit: int) -> list[Account]:
        """Accounts that have a repo head, in DID order, strictly after `after`."""
        rows = await self._pool.fetch(
            _SELECT_ACCOUNTS.replace("LEFT JOIN repo_state", "JOIN repo_state")
            + "WHERE ($1::text IS NULL OR a.did > $1::text) ORDER BY a.did LIMIT $2",
            after,
            limit,
        )
        return [_account(r) for r in rows]

    async def upsert_accounts(self, updates: Sequence[AccountUpdate]) -> int:
        """Create or partially update accounts and their repo heads; returns how many DIDs.

        One statement (`_UPSERT_ACCOUNTS`), so one round trip: the validator calls this for every
        group of events it persists, and a transaction of six statements cost ~2 ms of this
        process's CPU per call. A DID that another writer inserts between this statement's
        snapshot and its insert is neither updated nor inserted; such DIDs are sent again.

        Raises:
            UnknownHost: an update names a hostname that is not registered (nothing is written).
        """
        merged = _merge(updates)
        # Sorted, so concurrent batches lock rows in the same order and cannot deadlock.
        pending = [merged[d] for d in sorted(merged)]
        while pending:
            row = await self._pool.fetchrow(
                _UPSERT_ACCOUNTS,
                [u.did for u in pending],
                [u.host for u in pending],
                [u.upstream_status.value if u.upstream_status else None for u in pending],
                [u.desynchronized for u in pending],
                [u.head.rev if u.head else None for u in pending],
                [u.head.commit_cid if u.head else None for u in pending],
                [u.head.data_cid if u.head else None for u in pending],
            )
            assert row is not None
            if row["unknown"]:
                raise UnknownHost(row["unknown"])
            raced = set(row["raced"])
            pending = [u for u in pending if u.did in raced]
        return len(merged)

    async def set_upstream_statuses(
        self, changes: Sequence[tuple[Did, str, AccountStatus]]
    ) -> dict[Did, AccountStatus]:
        """Record #account statuses (did, host it came from, status); creates unknown accounts
        under that host. Returns each DID's *local* status, which decides visibility."""
        latest = {did: (host, status) for did, host, status in changes}
        if not latest:
            return {}
        dids = sorted(latest)
        last = [latest[d] for d in dids]
        rows = await self._pool.fetch(
            _SET_UPSTREAM_STATUSES,
            dids,
            [host for host, _ in last],
            [status.value for _, status in last],
        )
        return {Did(r["did"]): AccountStatus(r["local_status"]) for r in rows}

    async def add_accounts_from_events(
        self, seen: Sequence[tuple[Did, str, AccountStatus]]
    ) -> dict[Did, AccountStatus]:
        """Create the accounts of #account events (did, host, status) that have no row yet, and
        return each DID's *local* status, which decides visibility.

        An existing row's upstream status is not overwritten: the validator owns it and writes it
        in stream order through `UpsertAccounts` before it acks. This applier runs behind the
        stream, so its write of an older #account could land after the validator's newer one and
        leave the durable state wrong (a validator that re-reads it after a failed write would
        then drop the account's later commits as deactivated).
        """
        latest = {did: (host, status) for did, host, status in seen}
        if not latest:
            return {}
        dids = sorted(latest)
        last = [latest[d] for d in dids]
        rows = await self._pool.fetch(
            _ADD_ACCOUNTS_FROM_EVENTS,
            dids,
            [host for host, _ in last],
            [status.value for _, status in last],
        )
        return {Did(r["did"]): AccountStatus(r["local_status"]) for r in rows}

    async def set_handles(self, changes: Sequence[tuple[Did, str | None]]) -> int:
        """Record verified handles from #identity events (None clears); unknown DIDs are skipped."""
        latest = dict(changes)
        if not latest:
            return 0
        dids = sorted(latest)
        result: str = await self._pool.execute(
            "UPDATE accounts a SET handle = t.handle, updated_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS t(did, handle) WHERE a.did = t.did",
            dids,
            [latest[d] for d in dids],
        )
        return int(result.split()[-1])

    async def set_local_status(self, did: Did, status: AccountStatus, reason: str | None) -> Account:
        """An operator's takedown / suspension / reversal. Works for DIDs not seen yet, so an
        account can be taken down before its first event arrives."""
        if status not in LOCAL_STATUSES:
            raise InvalidUpdate(f"{status} is not a local status")
        await self._pool.execute(
            "INSERT INTO accounts (did, local_status, local_status_reason) VALUES ($1, $2, $3)"
            " ON CONFLICT (did) DO UPDATE SET local_status = EXCLUDED.local_status,"
            " local_status_reason = EXCLUDED.local_status_reason, updated_at = now()",
            did,
            status.value,
            reason,
        )
        account = await self.get_account(did)
        assert account is not None
        return account
