"""The account-state cache gives back equal states, and the collector stops tracking its entries."""

from __future__ import annotations

import gc

import pytest
from relay_core.cid import Cid
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid
from relay_validator.account_state import AccountState, AccountStatus
from relay_validator.state_cache import ABSENT, StateCache

CID = Cid.for_dag_cbor(b"\xa0")
STATES = [
    AccountState(did=Did("did:plc:new"), host=None),
    AccountState(
        did=Did("did:plc:full"),
        host="pds.example.com",
        upstream_status=AccountStatus.DEACTIVATED,
        local_status=AccountStatus.TAKENDOWN,
        desynchronized=True,
        rev=Tid("3jzfcijpj2z2a"),
        commit_cid=Cid.for_dag_cbor(b"\x80"),
        data_cid=CID,
    ),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.did)
def test_round_trip(state: AccountState) -> None:
    cache = StateCache(10, 60.0)
    cache.put(state.did, state)
    back = cache.get(state.did)
    assert back == state and back is not state
    refreshed = AccountState(did=state.did, host="other.example.com", rev=Tid("3jzfcijpj2z2b"))
    cache.refresh(state.did, refreshed)
    assert cache.get(state.did) == refreshed


def test_absent_missing_and_discard() -> None:
    cache = StateCache(10, 60.0)
    cache.put(Did("did:plc:none"), ABSENT)
    assert cache.get(Did("did:plc:none")) is ABSENT
    assert cache.get(Did("did:plc:other")) is None
    cache.discard([Did("did:plc:none")])
    assert cache.get(Did("did:plc:none")) is None and len(cache) == 0


def test_entries_leave_the_collectors_lists() -> None:
    cache = StateCache(10, 60.0)
    for state in STATES:
        cache.put(state.did, state)
    gc.collect(0)
    entries = list(cache._lru._entries.values())
    # The packed state is untracked by the first young collection; the LRU's (expiry, state) pair
    # around it by the next that sees it. An AccountState stored as it is would stay tracked.
    assert not any(gc.is_tracked(entry[1]) for entry in entries)
    gc.collect()
    assert entries and not any(gc.is_tracked(entry) or gc.is_tracked(entry[1]) for entry in entries)
    assert gc.is_tracked(STATES[1])
