from __future__ import annotations

import pytest
from relay_core.errors import InvalidSyntax
from relay_core.syntax import (
    INVALID_HANDLE,
    MAX_HANDLE_LENGTH,
    handle_tld_is_disallowed,
    normalize_handle,
    parse_at_identifier,
    parse_handle,
)


def test_parse_keeps_case_normalize_lowers() -> None:
    assert parse_handle("Alice.Bsky.Social") == "Alice.Bsky.Social"
    assert normalize_handle("Alice.Bsky.Social") == "alice.bsky.social"


def test_length_cap() -> None:
    label = "a" * 63
    at_cap = ".".join([label, label, label, "a" * 61])
    assert len(at_cap) == MAX_HANDLE_LENGTH
    assert parse_handle(at_cap) == at_cap
    with pytest.raises(InvalidSyntax) as info:
        parse_handle("a" + at_cap)
    assert info.value.reason == "handle_too_long"


@pytest.mark.parametrize("raw", ["alice.test\n", "alice.test.", "a" * 64 + ".test", "alice.123", ""])
def test_rejects(raw: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_handle(raw)
    assert info.value.reason == "bad_handle"


@pytest.mark.parametrize(
    ("handle", "disallowed"),
    [("alice.test", False), ("alice.bsky.social", False), ("laptop.local", True), ("x.ONION", True)],
)
def test_disallowed_tlds(handle: str, disallowed: bool) -> None:
    assert handle_tld_is_disallowed(parse_handle(handle)) is disallowed


def test_invalid_handle_marker_is_a_handle_with_a_disallowed_tld() -> None:
    assert parse_handle(INVALID_HANDLE) == INVALID_HANDLE
    assert handle_tld_is_disallowed(INVALID_HANDLE)


def test_at_identifier_dispatches_on_did_prefix() -> None:
    assert parse_at_identifier("did:plc:7iza6de2dwap2sbkpav7c6c6") == "did:plc:7iza6de2dwap2sbkpav7c6c6"
    assert parse_at_identifier("alice.test") == "alice.test"
    with pytest.raises(InvalidSyntax) as info:
        parse_at_identifier("did:plc")
    assert info.value.reason == "bad_did"
