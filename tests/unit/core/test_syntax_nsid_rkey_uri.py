from __future__ import annotations

import pytest
from relay_core.errors import InvalidSyntax
from relay_core.syntax import (
    MAX_AT_URI_LENGTH,
    MAX_NSID_LENGTH,
    AtUri,
    Nsid,
    nsid_authority,
    nsid_name,
    parse_at_uri,
    parse_language,
    parse_nsid,
    parse_record_key,
)


def test_nsid_parts() -> None:
    nsid = parse_nsid("app.bsky.feed.post")
    assert nsid_authority(nsid) == "app.bsky.feed"
    assert nsid_name(nsid) == "post"


def test_nsid_length_cap() -> None:
    long_nsid = "a." + ".".join(["b" * 63] * 4) + "." + "c" * 59
    assert len(long_nsid) == MAX_NSID_LENGTH
    parse_nsid(long_nsid)
    with pytest.raises(InvalidSyntax) as info:
        parse_nsid(long_nsid + "c")
    assert info.value.reason == "nsid_too_long"


@pytest.mark.parametrize("raw", ["app.bsky.feed.post\n", "app.bsky", "app.bsky.2post", "app.bsky.feed-post"])
def test_nsid_rejects(raw: str) -> None:
    with pytest.raises(InvalidSyntax):
        parse_nsid(raw)


@pytest.mark.parametrize("raw", ["3jzfcijpj2z2a", "self", "a" * 512, "...", "a:b~c_d-e.f"])
def test_record_key_accepts(raw: str) -> None:
    assert parse_record_key(raw) == raw


@pytest.mark.parametrize("raw", ["", ".", "..", "a" * 513, "a/b", "a\n", "é"])
def test_record_key_rejects(raw: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_record_key(raw)
    assert info.value.reason == "bad_record_key"


def test_at_uri_parts_and_round_trip() -> None:
    raw = "at://did:plc:7iza6de2dwap2sbkpav7c6c6/app.bsky.feed.post/3jzfcijpj2z2a"
    uri = parse_at_uri(raw)
    assert uri.authority == "did:plc:7iza6de2dwap2sbkpav7c6c6"
    assert uri.collection == "app.bsky.feed.post"
    assert uri.rkey == "3jzfcijpj2z2a"
    assert str(uri) == raw
    assert str(parse_at_uri("at://alice.test")) == "at://alice.test"
    assert parse_at_uri("at://alice.test").collection is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("at://alice.test/app.bsky.feed.post/a/b", "bad_at_uri"),
        ("at://alice.test/", "bad_nsid"),
        ("at://alice.test/app.bsky.feed.post/", "bad_record_key"),
        ("at://alice..test", "bad_handle"),
        ("https://alice.test", "bad_at_uri"),
        ("at://alice.test/" + "a" * MAX_AT_URI_LENGTH, "at_uri_too_long"),
    ],
)
def test_at_uri_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_at_uri(raw)
    assert info.value.reason == reason


def test_at_uri_rkey_requires_collection() -> None:
    with pytest.raises(InvalidSyntax):
        AtUri(
            authority=parse_at_uri("at://alice.test").authority, collection=None, rkey=parse_record_key("x")
        )
    assert AtUri(parse_at_uri("at://alice.test").authority, Nsid("a.b.c")).rkey is None


@pytest.mark.parametrize("raw", ["en", "pt-BR", "zh-Hant-TW", "x-private", "i-klingon", "en-US-x-twain"])
def test_language_accepts(raw: str) -> None:
    assert parse_language(raw) == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("en-", "bad_language"),
        ("en-US-u", "bad_language"),  # extension singleton without a subtag
        ("en-x", "bad_language"),
        ("EN", "bad_language"),
        ("en-1901-1901", "impossible_language"),
        ("de-a-foo-A-bar", "impossible_language"),
        ("日本語", "bad_language"),
    ],
)
def test_language_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_language(raw)
    assert info.value.reason == reason
