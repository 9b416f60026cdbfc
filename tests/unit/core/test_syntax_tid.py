from __future__ import annotations

import pytest
from relay_core.errors import InvalidSyntax
from relay_core.syntax import MAX_CLOCK_ID, MAX_TIMESTAMP_US, Tid, parse_tid, tid_from_time


def test_round_trip_timestamp_and_clock_id() -> None:
    tid = tid_from_time(1_700_000_000_123_456, 42)
    assert len(str(tid)) == 13
    assert parse_tid(str(tid)) == tid
    assert tid.timestamp_us == 1_700_000_000_123_456
    assert tid.clock_id == 42
    assert tid.integer == (1_700_000_000_123_456 << 10) | 42


def test_known_value() -> None:
    # "2222222222222" is all zero digits; "2222222222223" is the integer 1.
    assert parse_tid("2222222222222").integer == 0
    low = parse_tid("2222222222223")
    assert (low.integer, low.timestamp_us, low.clock_id) == (1, 0, 1)


def test_extremes() -> None:
    top = tid_from_time(MAX_TIMESTAMP_US, MAX_CLOCK_ID)
    assert parse_tid(str(top)) == top
    assert (top.timestamp_us, top.clock_id) == (MAX_TIMESTAMP_US, MAX_CLOCK_ID)
    assert str(tid_from_time(0, 0)) == "2222222222222"


def test_ordering_follows_time_then_clock_id() -> None:
    a = tid_from_time(1_000, 5)
    b = tid_from_time(1_000, 6)
    c = tid_from_time(1_001, 0)
    assert a < b < c
    assert sorted([c, a, b]) == [a, b, c]
    assert max(a, c) == c


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(InvalidSyntax) as info:
        Tid("not-a-tid")
    assert info.value.reason == "bad_tid"


def test_rejects_trailing_newline() -> None:
    with pytest.raises(InvalidSyntax):
        parse_tid("3jzfcijpj2z2a\n")


@pytest.mark.parametrize(
    ("us", "clock"), [(-1, 0), (MAX_TIMESTAMP_US + 1, 0), (0, -1), (0, MAX_CLOCK_ID + 1)]
)
def test_tid_from_time_range(us: int, clock: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        tid_from_time(us, clock)
