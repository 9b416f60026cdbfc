"""AccountWriter: concurrent writes of every partition become one UpsertAccounts per window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from relay_core.syntax.did import Did
from relay_validator.account_state import AccountState
from relay_validator.account_writer import AccountWriter
from relay_validator.errors import DependencyUnavailable

WINDOW = 0.02


class RecordingSink:
    """Keeps each call's rows; fails the calls whose number is in `fail`."""

    def __init__(self, fail: set[int] | None = None, delay: float = 0.0) -> None:
        self.calls: list[list[AccountState]] = []
        self.fail = fail or set()
        self.delay = delay

    async def upsert_accounts(self, states: Sequence[AccountState]) -> None:
        self.calls.append(list(states))
        await asyncio.sleep(self.delay)
        if len(self.calls) in self.fail:
            raise DependencyUnavailable("indexer", "UpsertAccounts: UNAVAILABLE")


def state(did: str, host: str = "pds.example.com") -> AccountState:
    return AccountState(did=Did(did), host=host)


async def test_writes_in_one_window_go_out_as_one_call() -> None:
    sink = RecordingSink()
    writer = AccountWriter(sink, window_seconds=WINDOW)
    a, b, c = state("did:plc:aaaa"), state("did:plc:bbbb"), state("did:plc:cccc")
    await asyncio.gather(writer.write({a.did: a}), writer.write({b.did: b}), writer.write({c.did: c}))
    assert [sorted(s.did for s in call) for call in sink.calls] == [[a.did, b.did, c.did]]


async def test_same_did_in_one_window_keeps_the_later_write() -> None:
    sink = RecordingSink()
    writer = AccountWriter(sink, window_seconds=WINDOW)
    old, new = state("did:plc:aaaa", "old.example.com"), state("did:plc:aaaa", "new.example.com")
    await asyncio.gather(writer.write({old.did: old}), writer.write({new.did: new}))
    assert sink.calls == [[new]]


async def test_writes_during_a_call_go_in_the_next_one() -> None:
    sink = RecordingSink(delay=0.1)
    writer = AccountWriter(sink, window_seconds=WINDOW)
    a, b = state("did:plc:aaaa"), state("did:plc:bbbb")
    first = asyncio.create_task(writer.write({a.did: a}))
    await asyncio.sleep(WINDOW + 0.03)  # the first call is in flight now
    assert len(sink.calls) == 1 and not first.done()
    await writer.write({b.did: b})
    assert first.done()
    assert sink.calls == [[a], [b]]


async def test_a_failed_call_fails_each_of_its_writers_and_not_the_next() -> None:
    sink = RecordingSink(fail={1}, delay=0.05)
    writer = AccountWriter(sink, window_seconds=WINDOW)
    a, b, c = state("did:plc:aaaa"), state("did:plc:bbbb"), state("did:plc:cccc")
    in_first = [asyncio.create_task(writer.write({s.did: s})) for s in (a, b)]
    await asyncio.sleep(WINDOW + 0.02)
    later = asyncio.create_task(writer.write({c.did: c}))
    for task in in_first:
        with pytest.raises(DependencyUnavailable):
            await task
    await later  # its own call succeeded
    assert [sorted(s.did for s in call) for call in sink.calls] == [[a.did, b.did], [c.did]]


async def test_nothing_to_write_makes_no_call() -> None:
    sink = RecordingSink()
    await AccountWriter(sink, window_seconds=WINDOW).write({})
    assert sink.calls == []
