"""`with_head` is `dataclasses.replace` for a new repo head, field for field."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from relay_core.cid import Cid
from relay_core.syntax.tid import Tid
from relay_validator.account_state import AccountState, with_head

from tests.unit.validator.test_state_cache import STATES


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.did)
def test_with_head_is_replace(state: AccountState) -> None:
    rev, new, old = Tid("3jzfcijpj2z2b"), Cid.for_dag_cbor(b"\x80"), Cid.for_dag_cbor(b"\xa0")
    built = with_head(state, rev, new, old)
    expected = replace(state, rev=rev, commit_cid=new, data_cid=old, desynchronized=False)
    assert built == expected
    assert [getattr(built, f.name) for f in fields(AccountState)] == [
        getattr(expected, f.name) for f in fields(AccountState)
    ]
