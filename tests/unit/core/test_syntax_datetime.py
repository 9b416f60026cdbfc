from __future__ import annotations

import datetime as dt

import pytest
from relay_core.errors import InvalidSyntax
from relay_core.syntax import parse_datetime


def _epoch_us(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    "raw",
    [
        "1985-04-12T23:20:50.123Z",
        "1985-04-12T23:20:50.123456Z",
        "1985-04-12T23:20:50Z",
        "1985-04-12T23:20:50.123-07:00",
        "2024-02-29T12:00:00+05:30",
        "1969-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
    ],
)
def test_instant_matches_python(raw: str) -> None:
    parsed = parse_datetime(raw)
    assert str(parsed) == raw
    expected = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    assert parsed.epoch_us == _epoch_us(expected)
    assert parsed.to_datetime() == expected


def test_fraction_beyond_microseconds_is_truncated() -> None:
    assert parse_datetime("1985-04-12T23:20:50.1234569Z").epoch_us % 1_000_000 == 123_456


def test_year_zero_is_valid_but_not_a_python_datetime() -> None:
    parsed = parse_datetime("0000-01-01T00:00:00.000Z")
    assert parsed.epoch_us == -62_167_219_200_000_000
    with pytest.raises(OverflowError):
        parsed.to_datetime()


@pytest.mark.parametrize(
    "raw",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",  # century, not a leap year
        "2024-04-31T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:59:60Z",  # no leap seconds
        "2024-01-01T00:00:00+24:00",
        "9999-12-31T23:00:00-01:00",  # past year 9999 in UTC
    ],
)
def test_impossible_values(raw: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_datetime(raw)
    assert info.value.reason == "impossible_datetime"


def test_leap_day_in_leap_years() -> None:
    parse_datetime("2000-02-29T00:00:00Z")
    parse_datetime("2024-02-29T00:00:00Z")


@pytest.mark.parametrize("raw", ["1985-04-12T23:20:50.123-00:00", "1985-04-12T23:20:50Z\n", "x" * 100])
def test_bad_syntax(raw: str) -> None:
    with pytest.raises(InvalidSyntax) as info:
        parse_datetime(raw)
    assert info.value.reason == "bad_datetime"


def test_ordering_compares_instants_not_text() -> None:
    earlier = parse_datetime("2024-01-01T10:00:00+02:00")  # 08:00Z
    later = parse_datetime("2024-01-01T09:00:00Z")
    assert earlier < later
    assert later >= earlier
    assert max(earlier, later) is later


@pytest.mark.parametrize(
    "raw",
    [
        "2023-02-29T00:00:00.000Z",
        "2024-02-30T00:00:00.000Z",
        "2023-13-01T00:00:00.000Z",
        "2023-00-01T00:00:00.000Z",
        "2023-11-00T00:00:00.000Z",
        "2023-11-14T24:00:00.000Z",
        "2023-11-14T23:60:00.000Z",
        "2023-11-14T23:59:60.000Z",
    ],
)
def test_millisecond_utc_shape_still_checks_the_calendar(raw: str) -> None:
    # This shape takes the fast path (and fills the date cache); impossible values must not slip.
    parse_datetime("2023-11-14T22:13:20.000Z")
    with pytest.raises(InvalidSyntax) as exc:
        parse_datetime(raw)
    assert exc.value.reason == "impossible_datetime"


def test_millisecond_utc_shape_instant() -> None:
    assert parse_datetime("2024-02-29T23:59:59.999Z").epoch_us == 1_709_251_199_999_000
    assert parse_datetime("9999-12-31T23:59:59.999Z").epoch_us == 253_402_300_799_999_000
