"""Bearer-token checks: metadata parsing, several tokens, constant-time comparison."""

from __future__ import annotations

import hmac

import pytest
from relay_admin.auth import TokenSet, bearer_token

A = "token-a-0123456789abcdef"
B = "token-b-0123456789abcdef"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ([("authorization", "Bearer abc")], "abc"),
        ([("Authorization", "bearer  abc ")], "abc"),
        ([("authorization", b"Bearer abc")], "abc"),
        ([("x-other", "1"), ("authorization", "Bearer abc")], "abc"),
        ([("authorization", "Basic abc")], None),
        ([("authorization", "Bearer")], None),
        ([("authorization", "Bearer ")], None),
        ([("x-other", "Bearer abc")], None),
        ([], None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_authorization_metadata(
    metadata: list[tuple[str, str | bytes]] | None, expected: str | None
) -> None:
    assert bearer_token(metadata) == expected


def test_only_the_first_authorization_entry_counts() -> None:
    assert bearer_token([("authorization", "Basic x"), ("authorization", "Bearer abc")]) is None


def test_every_configured_token_is_accepted_for_rotation() -> None:
    tokens = TokenSet([A, B])
    assert len(tokens) == 2
    assert tokens.accepts(A)
    assert tokens.accepts(B)


@pytest.mark.parametrize("presented", [None, "", "token-a", A + "x", A.upper(), " " + A])
def test_anything_else_is_refused(presented: str | None) -> None:
    assert not TokenSet([A, B]).accepts(presented)


def test_a_token_set_needs_a_token() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenSet([])
    with pytest.raises(ValueError, match="at least one"):
        TokenSet([""])


def test_every_token_is_compared_in_constant_time_whatever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A match on the first token must not skip the comparison with the second (timing would
    tell which token matched), and comparisons are of fixed-length digests."""
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    tokens = TokenSet([A, B])
    for presented in (A, B, "short", "x" * 500):
        calls.clear()
        tokens.accepts(presented)
        assert calls == [(32, 32), (32, 32)], presented
