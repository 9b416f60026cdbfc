from __future__ import annotations

import pytest
from relay_core.errors import InvalidSyntax
from relay_core.syntax import MAX_DID_LENGTH, did_method, normalize_did, parse_did, parse_relay_did

PLC = "did:plc:7iza6de2dwap2sbkpav7c6c6"


def test_parse_did_returns_input_unchanged() -> None:
    assert parse_did("did:method:VAL") == "did:method:VAL"


def test_length_cap_is_inclusive() -> None:
    at_cap = "did:m:" + "a" * (MAX_DID_LENGTH - 6)
    assert parse_did(at_cap) == at_cap
    with pytest.raises(InvalidSyntax) as info:
        parse_did(at_cap + "a")
    assert info.value.reason == "did_too_long"


@pytest.mark.parametrize(
    "raw",
    [
        "did:method:val%zz",  # % must start a hex escape
        "did:method:val%4",
        "did:method:val\n",  # `$` in a regex would have let a trailing newline through
        "did:méthod:val",
        "did:method:vál",
    ],
)
def test_parse_did_rejects(raw: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_did(raw)
    assert info.value.reason == "bad_did"


def test_did_method() -> None:
    assert did_method(parse_did(PLC)) == "plc"
    assert did_method(parse_did("did:web:example.com")) == "web"


@pytest.mark.parametrize(
    "raw",
    [
        PLC,
        "did:web:example.com",
        "did:web:sub.example.co.uk",
        "did:web:localhost",
        "did:web:localhost%3A2583",
    ],
)
def test_parse_relay_did_accepts(raw: str) -> None:
    assert parse_relay_did(raw) == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("did:plc:7iza6de2dwap2sbkpav7c6c", "bad_did_plc"),  # 23 chars
        ("did:plc:7iza6de2dwap2sbkpav7c6c6a", "bad_did_plc"),  # 25 chars
        ("did:plc:7IZA6DE2DWAP2SBKPAV7C6C6", "bad_did_plc"),  # base32 is lower case
        ("did:plc:7iza6de2dwap2sbkpav7c6c1", "bad_did_plc"),  # 1 is not in base32
        ("did:web:example.com:path", "bad_did_web"),  # atproto did:web is hostname-only
        ("did:web:example.com%3A8080", "bad_did_web"),  # ports only for localhost
        ("did:web:127.0.0.1", "bad_did_web"),
        ("did:web:-bad.com", "bad_did_web"),
        ("did:web:Example.com", "did_web_not_normalized"),
        ("did:web:localhost%3a2583", "did_web_not_normalized"),
        ("did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N", "unsupported_did_method"),
        ("did:web", "bad_did"),
        ("handle.test", "bad_did"),
    ],
)
def test_parse_relay_did_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_relay_did(raw)
    assert info.value.reason == reason


def test_normalize_did_folds_only_did_web_host() -> None:
    assert normalize_did("did:web:Example.COM") == "did:web:example.com"
    assert normalize_did("did:web:LOCALHOST%3a2583") == "did:web:localhost%3A2583"
    assert parse_relay_did(normalize_did("did:web:Example.COM")) == "did:web:example.com"
    # DIDs in general are case-sensitive: folding any other method would change identity.
    assert normalize_did("did:example:ABC") == "did:example:ABC"
    assert normalize_did(PLC) == PLC


def test_normalize_did_still_checks_syntax() -> None:
    with pytest.raises(InvalidSyntax):
        normalize_did("DID:web:example.com")
