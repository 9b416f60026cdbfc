"""Cursor parsing and the start decision of subscribeRepos."""

from __future__ import annotations

import pytest
from relay_firehose.cursor import BadCursor, Start, StartKind, parse_cursor, plan_start


@pytest.mark.parametrize(
    ("query", "cursor"), [("", None), ("cursor=", None), ("cursor=0", 0), ("x=1&cursor=42", 42)]
)
def test_parse(query: str, cursor: int | None) -> None:
    assert parse_cursor(query) == cursor


@pytest.mark.parametrize(
    "query",
    ["cursor=-1", "cursor=abc", "cursor=1.0", "cursor=%EF%BC%91", "cursor=1&cursor=2", f"cursor={2**63}"],
)
def test_parse_refuses(query: str) -> None:
    with pytest.raises(BadCursor):
        parse_cursor(query)


@pytest.mark.parametrize(
    ("cursor", "first", "last", "start"),
    [
        (None, 1, 10, Start(StartKind.LIVE)),
        (10, 1, 10, Start(StartKind.REPLAY, 11)),
        (0, 1, 10, Start(StartKind.REPLAY, 1)),
        (4, 1, 10, Start(StartKind.REPLAY, 5)),
        (4, 5, 10, Start(StartKind.REPLAY, 5)),
        (3, 5, 10, Start(StartKind.OUTDATED, 5)),
        (11, 1, 10, Start(StartKind.FUTURE)),
        (0, 1, 0, Start(StartKind.REPLAY, 1)),  # empty log, cursor 0: wait for the first event
        (1, 1, 0, Start(StartKind.FUTURE)),
    ],
)
def test_plan(cursor: int | None, first: int, last: int, start: Start) -> None:
    assert plan_start(cursor, first_seq=first, last_seq=last) == start
