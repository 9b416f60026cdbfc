"""`with_head` is `dataclasses.replace` for a new repo head, field for field."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from relay_core.cid import Cid
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid
from relay_validator.account_state import AccountState, AccountStatus, with_head

OLD, NEW = Cid.for_dag_cbor(b"\xa0"), Cid.for_dag_cbor(b"\x80")


@pytest.mark.parametrize(
    "state",
    [
        AccountState(did=Did("did:plc:a"), host=None),
        AccountState(
            did=Did("did:plc:b"),
            host="pds.example",
            upstream_status=AccountStatus.DEACTIVATED,
            local_status=AccountStatus.TAKENDOWN,
            desynchronized=True,
            rev=Tid("3jzfcijpj2z2a"),
            commit_cid=OLD,
            data_cid=OLD,
        ),
    ],
)
def test_with_head_is_replace(state: AccountState) -> None:
    rev = Tid("3jzfcijpj2z2b")
    built = with_head(state, rev, NEW, OLD)
    expected = replace(state, rev=rev, commit_cid=NEW, data_cid=OLD, desynchronized=False)
    assert built == expected
    assert [getattr(built, f.name) for f in fields(AccountState)] == [
        getattr(expected, f.name) for f in fields(AccountState)
    ]
