"""One `UpsertAccounts` at a time for every partition of a replica (group commit).

Each partition's persister used to write on its own schedule: at 1,000 events/s that was ~105
calls/s of ~5 rows, and a call's fixed cost (grpc.aio on both ends, the tracing interceptor, one
SQL statement) is ~750 µs of indexer CPU plus the client's, whatever the row count
(docs/benchmarks.md, indexer). Here the writes of all partitions that arrive within a window go
out as one call, and every caller gets that call's outcome: ~20 calls/s for the whole replica.

Order: a caller awaits its write before sending the next (each persister has one write in flight),
so one partition's writes stay in order. Two partitions writing the same DID in one window (an
account moving between hosts) merge with the later caller's state winning, as two separate calls
in that order would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from relay_core.syntax.did import Did

from relay_validator.account_state import AccountState

__all__ = ["AccountWriter", "StateSink"]

WINDOW_SECONDS: Final = 0.05
"""How long the first write of a call waits for others to join it."""


class StateSink(Protocol):
    async def upsert_accounts(self, states: Sequence[AccountState]) -> None: ...


class AccountWriter:
    """Merges concurrent `write`s into one `upsert_accounts` per window.

    Args:
        sink: where the merged states go (the indexer client).
        window_seconds: how long a call waits for company after its first write.
    """

    def __init__(self, sink: StateSink, *, window_seconds: float = WINDOW_SECONDS) -> None:
        self._sink = sink
        self._window = window_seconds
        self._pending: dict[Did, AccountState] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, states: Mapping[Did, AccountState]) -> None:
        """Make `states` durable, together with whatever else is written in the same window.

        Raises:
            whatever `upsert_accounts` raised for the merged call.
        """
        if not states:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.update(states)
        self._waiters.append(waiter)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="account writer")
        await waiter

    async def _flush(self) -> None:
        while self._waiters:
            await asyncio.sleep(self._window)
            states, waiters = self._pending, self._waiters
            self._pending, self._waiters = {}, []
            try:
                await self._sink.upsert_accounts(list(states.values()))
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            except BaseException:
                # Cancelled (shutdown): the callers are told so rather than left waiting.
                for waiter in [*waiters, *self._waiters]:
                    waiter.cancel()
                raise
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
