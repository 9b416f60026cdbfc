"""Commit and sync events pickle to a flat form and come back equal, field types included (the
validator's verify workers receive events this way)."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

from relay_core.builders import AccountBuilder, RecordWrite
from relay_core.firehose.events import CommitEvent, SyncEvent, decode_event
from relay_core.firehose.frames import encode_frame


def _round_trip(event: Any) -> None:
    back = pickle.loads(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == event
    assert type(back) is type(event)
    for name in type(event).__slots__:
        a, b = getattr(event, name), getattr(back, name)
        assert type(a) is type(b), name
        if type(a) is tuple:
            assert [type(x) for x in a] == [type(x) for x in b], name
            assert all(x == y and type(x) is type(y) for x, y in zip(a, b, strict=True)), name


def test_builder_commits_of_every_action_and_a_sync() -> None:
    account = AccountBuilder(seq=itertools.count(1))
    genesis = decode_event(account.commit([account.post(f"seed {i}") for i in range(10)]).frame())
    assert isinstance(genesis, CommitEvent) and genesis.prev_data is None
    _round_trip(genesis)
    collection, rkey = next(iter(account.tree.items()))[0].split("/")
    writes = [
        account.post("new"),
        RecordWrite(collection, rkey, {"$type": "app.bsky.feed.post", "text": "edited"}),
    ]
    mixed = decode_event(account.commit(writes).frame())
    assert isinstance(mixed, CommitEvent) and mixed.prev_data is not None and mixed.since is not None
    _round_trip(mixed)
    deleted = decode_event(account.commit([RecordWrite(collection, rkey, None)]).frame())
    assert isinstance(deleted, CommitEvent) and deleted.ops[0].cid is None
    _round_trip(deleted)
    sync = decode_event(encode_frame("#sync", account.sync_body()))
    assert isinstance(sync, SyncEvent)
    _round_trip(sync)
