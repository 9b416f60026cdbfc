"""The validator's account-state cache, kept out of the garbage collector's young generations.

Every accepted commit replaces its account's cached state. Held as `AccountState` objects (each
with its `Tid` and `Cid`s: four objects the collector tracks), the new states pile up in the young
generations, because freeing the replaced ones lowers the allocation count that triggers young
collections. At the default 200,000 entries and 5,000 replacements a second, the generation-1
collections that finally walk them stopped the event loop for 20-45 ms (`bench/bench_gc_pauses.py`).

So an entry is a tuple of strings, bytes, bools and None: the collector untracks such a tuple the
first time it sees it (and the LRU's `(expiry, entry)` pair around it the next time), and never
walks it again. A state is rebuilt on every read (~1 µs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from relay_core.cid import Cid
from relay_core.fastinit import trusted_constructor
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid

from relay_validator.account_state import AccountState, AccountStatus
from relay_validator.lru import ExpiringLru

__all__ = ["ABSENT", "StateCache"]


class _Absent:
    """Cached knowledge that the indexer has no state for the DID."""


ABSENT: Final = _Absent()

_Packed = tuple[str, str | None, str, str, bool, str | None, bytes | None, bytes | None]
_ABSENT_ENTRY: Final = ()
_PACKED_LEN: Final = 8
_STATUSES: Final = {status.value: status for status in AccountStatus}
_make_state = trusted_constructor(AccountState)
_make_tid = trusted_constructor(Tid)
_new_cid = Cid._trusted


def _pack(state: AccountState) -> _Packed:
    return (
        state.did,
        state.host,
        state.upstream_status.value,
        state.local_status.value,
        state.desynchronized,
        None if state.rev is None else state.rev.value,
        None if state.commit_cid is None else state.commit_cid.raw,
        None if state.data_cid is None else state.data_cid.raw,
    )


def _unpack(entry: _Packed) -> AccountState:
    did, host, upstream, local, desynchronized, rev, commit_cid, data_cid = entry
    return _make_state(
        did=did,
        host=host,
        upstream_status=_STATUSES[upstream],
        local_status=_STATUSES[local],
        desynchronized=desynchronized,
        rev=None if rev is None else _make_tid(rev),
        commit_cid=None if commit_cid is None else _new_cid(commit_cid),
        data_cid=None if data_cid is None else _new_cid(data_cid),
    )


class StateCache:
    """`ExpiringLru` of account states (or `ABSENT`), stored packed."""

    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._lru: ExpiringLru[Did, _Packed | tuple[()]] = ExpiringLru(max_entries, ttl_seconds)

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, did: Did) -> AccountState | _Absent | None:
        entry = self._lru.get(did)
        if entry is None:
            return None
        return _unpack(entry) if len(entry) == _PACKED_LEN else ABSENT

    def put(self, did: Did, state: AccountState | _Absent) -> None:
        self._lru.put(did, _ABSENT_ENTRY if isinstance(state, _Absent) else _pack(state))

    def refresh(self, did: Did, state: AccountState) -> None:
        """Replace a state without extending its life (see `ExpiringLru.refresh`)."""
        self._lru.refresh(did, _pack(state))

    def discard(self, dids: Iterable[Did]) -> None:
        self._lru.discard(dids)
