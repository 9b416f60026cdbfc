from __future__ import annotations

from relay_core.syntax import Did, Nsid
from relay_indexer.collection_keys import (
    DidState,
    Entry,
    check_key,
    decode_entry,
    decode_state,
    encode_entry,
    encode_state,
    entry_key,
    listing_key,
    listing_prefix,
    listing_seek_after,
    split_check_key,
    split_entry_key,
    split_listing_key,
)

POST = Nsid("app.bsky.feed.post")
A = Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
B = Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")


def test_listing_keys_sort_by_collection_then_did() -> None:
    keys = [
        listing_key(Nsid("app.bsky.feed.postgate"), A),
        listing_key(POST, B),
        listing_key(POST, A),
        listing_key(Nsid("app.bsky.feed.like"), B),
    ]
    assert [split_listing_key(k) for k in sorted(keys)] == [
        (Nsid("app.bsky.feed.like"), B),
        (POST, A),
        (POST, B),
        (Nsid("app.bsky.feed.postgate"), A),
    ]


def test_a_collection_prefix_never_matches_a_longer_collection() -> None:
    longer = listing_key(Nsid("app.bsky.feed.postgate"), A)
    assert not longer.startswith(listing_prefix(POST))
    assert listing_key(POST, A).startswith(listing_prefix(POST))


def test_seek_after_lands_strictly_between_a_did_and_its_successor() -> None:
    # A DID that extends another (did:web:a.b vs did:web:a.bc) must still come after the seek key.
    short, extended = Did("did:web:a.example"), Did("did:web:a.examplez")
    seek = listing_seek_after(POST, short)
    assert listing_key(POST, short) < seek < listing_key(POST, extended)


def test_entry_and_check_keys_split_back() -> None:
    assert split_entry_key(entry_key(A, POST)) == (A, POST)
    assert split_check_key(check_key(A, POST)) == (A, POST)
    assert split_check_key(check_key(A, None)) == (A, None)
    assert entry_key(A, POST) < entry_key(B, POST)


def test_values_round_trip() -> None:
    for entry in (Entry(listed=True, low=1), Entry(listed=False, low=0), Entry(listed=True, low=2**40)):
        assert decode_entry(encode_entry(entry)) == entry
    for state in (DidState(), DidState(exact=True, hidden=True, rev="3l4abcdefgh22"), DidState(hidden=True)):
        assert decode_state(encode_state(state)) == state
