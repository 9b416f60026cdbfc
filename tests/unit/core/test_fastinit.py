"""`trusted_constructor` builds objects identical to the dataclass's own `__init__`."""

from __future__ import annotations

import dataclasses

import pytest
from relay_core.commit import Commit
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import CommitEvent, RepoOp
from relay_core.firehose.verify import VerifiedCommit
from relay_core.syntax.datetime import Datetime, parse_datetime
from relay_core.syntax.tid import Tid, parse_tid


@pytest.mark.parametrize("cls", [Commit, CommitEvent, RepoOp, Datetime, Tid, VerifiedCommit])
def test_same_object_as_init(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    values = [object() for _ in names]
    built = trusted_constructor(cls)(*values)
    assert type(built) is cls
    assert [getattr(built, n) for n in names] == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, names[0], 1)


def test_equal_and_hash_equal() -> None:
    assert trusted_constructor(Tid)("3jzfcijpj2z2a") == Tid("3jzfcijpj2z2a")
    assert hash(trusted_constructor(Tid)("3jzfcijpj2z2a")) == hash(Tid("3jzfcijpj2z2a"))
    assert parse_tid("3jzfcijpj2z2a") == Tid("3jzfcijpj2z2a")
    dt = parse_datetime("2024-11-23T09:10:11.123Z")
    assert dt == Datetime(dt.raw, dt.epoch_us)


def test_refuses_other_classes() -> None:
    @dataclasses.dataclass
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    for cls in (Mutable, NoSlots, int):
        with pytest.raises(TypeError):
            trusted_constructor(cls)


def test_parse_event_fills_every_commit_field_by_name() -> None:
    from relay_core.cid import Cid
    from relay_core.firehose.events import OpAction, parse_event
    from relay_core.firehose.frames import decode_frame, encode_frame

    commit, prev_data, rec = (Cid.for_dag_cbor(bytes([i])) for i in range(3))
    body = {
        "seq": 7,
        "repo": "did:plc:abcdefghijklmnopqrstuvwx",
        "rev": "3jzfcijpj2z2a",
        "since": "3jzfcijpj2z22",
        "commit": commit,
        "blocks": b"\x00car",
        "ops": [{"action": "create", "path": "app.bsky.feed.post/3jzfcijpj2z2a", "cid": rec}],
        "blobs": [rec],
        "prevData": prev_data,
        "time": "2024-11-23T09:10:11.123Z",
        "tooBig": False,
        "rebase": True,
    }
    evt = parse_event(decode_frame(encode_frame("#commit", body)))
    assert evt == CommitEvent(
        seq=7,
        repo=body["repo"],
        rev=Tid("3jzfcijpj2z2a"),
        since=Tid("3jzfcijpj2z22"),
        commit=commit,
        blocks=b"\x00car",
        ops=(RepoOp(action=OpAction.CREATE, path="app.bsky.feed.post/3jzfcijpj2z2a", cid=rec, prev=None),),
        blobs=(rec,),
        prev_data=prev_data,
        time=parse_datetime("2024-11-23T09:10:11.123Z"),
        too_big=False,
        rebase=True,
    )


def test_verified_commit_fields_by_name() -> None:
    """verify_commit_event builds its result by keyword: every field lands where `__init__` puts it."""
    from relay_core.firehose.verify import _make_verified_commit

    values = {f.name: object() for f in dataclasses.fields(VerifiedCommit)}
    assert _make_verified_commit(**values) == VerifiedCommit(**values)
