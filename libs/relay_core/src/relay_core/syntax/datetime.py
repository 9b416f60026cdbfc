"""Datetimes in atproto's strict profile (RFC 3339 intersected with ISO 8601).

Why not `datetime.fromisoformat`: it accepts forms atproto forbids (no timezone, `-00:00`-less
variants, lower-case `t`), and it cannot represent year 0000, which atproto allows. So we check
the syntax with one regex, check the calendar ourselves, and keep the instant as integer
microseconds since the Unix epoch (UTC). Digits past microseconds are kept in `raw` but dropped
from the instant.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from functools import lru_cache

from relay_core.errors import InvalidSyntax
from relay_core.fastinit import trusted_constructor

__all__ = ["MAX_DATETIME_LENGTH", "Datetime", "common_datetime", "parse_datetime"]

MAX_DATETIME_LENGTH = 64

_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,20}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
# The shape nearly every event timestamp has (`2024-11-23T09:10:11.123Z`): one group-free match
# and fixed slices instead of the general pattern's ten groups.
_COMMON_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_US_PER_DAY = 86_400_000_000
# Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar (for _days_from_civil).
_EPOCH_DAY_OFFSET = 719_468
_MIN_EPOCH_US = -62_167_219_200_000_000
"""0000-01-01T00:00:00Z: an offset must not push the instant before year 0000."""
_MAX_EPOCH_US = 253_402_300_799_999_999
"""9999-12-31T23:59:59.999999Z."""


@dataclass(frozen=True, slots=True)
class Datetime:
    """A strictly parsed datetime: the original text plus the UTC instant it names."""

    raw: str
    epoch_us: int
    """Microseconds since 1970-01-01T00:00:00Z (negative before the epoch)."""

    def __str__(self) -> str:
        return self.raw

    def __lt__(self, other: Datetime) -> bool:
        return self.epoch_us < other.epoch_us

    def __le__(self, other: Datetime) -> bool:
        return self.epoch_us <= other.epoch_us

    def __gt__(self, other: Datetime) -> bool:
        return self.epoch_us > other.epoch_us

    def __ge__(self, other: Datetime) -> bool:
        return self.epoch_us >= other.epoch_us

    def to_datetime(self) -> _dt.datetime:
        """The instant as an aware UTC `datetime.datetime`.

        Raises:
            OverflowError: for instants in year 0000, which Python cannot represent.
        """
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        return epoch + _dt.timedelta(microseconds=self.epoch_us)


_make_datetime = trusted_constructor(Datetime)


def parse_datetime(raw: str) -> Datetime:
    """Parse a datetime in the atproto profile and reject impossible calendar values.

    Syntax (`bad_datetime`): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, upper-case `T`
    and `Z`, `-00:00` forbidden. Values (`impossible_datetime`): month 1-12, a day that exists in
    that month, hour 0-23, minute and second 0-59 (no leap seconds), offset hours 0-23, and the UTC
    instant within years 0000-9999.

    Raises:
        InvalidSyntax: reason `bad_datetime` or `impossible_datetime`.
    """
    if len(raw) == 24 and _COMMON_RE.fullmatch(raw) is not None:
        when = common_datetime(raw)
        if when is not None:
            return when
        # An impossible value: the general path below names it.
    m = _DATETIME_RE.fullmatch(raw) if len(raw) <= MAX_DATETIME_LENGTH else None
    if m is None:
        raise InvalidSyntax(f"not an atproto datetime: {raw[:64]!r}", reason="bad_datetime")
    year_s, month_s, day_s, hour_s, minute_s, second_s, frac, sign, off_h_s, off_m_s = m.groups()
    if sign == "-" and off_h_s == "00" and off_m_s == "00":
        # RFC 3339 uses -00:00 for "offset unknown"; atproto requires a known offset.
        raise InvalidSyntax(f"-00:00 offset is not allowed: {raw!r}", reason="bad_datetime")
    year, month, day = int(year_s), int(month_s), int(day_s)
    hour, minute, second = int(hour_s), int(minute_s), int(second_s)
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        raise InvalidSyntax(f"no such date: {raw!r}", reason="impossible_datetime")
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidSyntax(f"no such time of day: {raw!r}", reason="impossible_datetime")
    offset_minutes = 0
    if sign is not None:
        off_h, off_m = int(off_h_s), int(off_m_s)
        if off_h > 23 or off_m > 59:
            raise InvalidSyntax(f"no such UTC offset: {raw!r}", reason="impossible_datetime")
        offset_minutes = (off_h * 60 + off_m) * (1 if sign == "+" else -1)
    micros = int((frac or "0")[:6].ljust(6, "0"))
    seconds_of_day = hour * 3600 + minute * 60 + second - offset_minutes * 60
    epoch_us = _days_from_civil(year, month, day) * _US_PER_DAY + seconds_of_day * 1_000_000 + micros
    if not _MIN_EPOCH_US <= epoch_us <= _MAX_EPOCH_US:
        raise InvalidSyntax(f"datetime outside years 0000-9999 in UTC: {raw!r}", reason="impossible_datetime")
    return Datetime(raw, epoch_us)


def common_datetime(raw: str) -> Datetime | None:
    """`parse_datetime(raw)` for `raw` already known to be `YYYY-MM-DDTHH:MM:SS.mmmZ` (the
    shape nearly every event timestamp has), or None if it names no real instant."""
    days = _DAYS_BY_DATE.get(raw[:10])
    if days is None:
        days = _date_days(int(raw[0:4]), int(raw[5:7]), int(raw[8:10]))
        if days is None:
            return None
        if len(_DAYS_BY_DATE) < _DATE_CACHE_SIZE:
            _DAYS_BY_DATE[raw[:10]] = days
    # HHMMSSmmm as one integer: one int() call instead of four.
    clock = int(raw[11:13] + raw[14:16] + raw[17:19] + raw[20:23])
    millis, clock = clock % 1000, clock // 1000
    second, clock = clock % 100, clock // 100
    minute, hour = clock % 100, clock // 100
    if hour < 24 and minute < 60 and second < 60:
        # UTC ("Z"), so the instant is in range for every year 0000-9999.
        return _make_datetime(
            raw, days * _US_PER_DAY + (hour * 3600 + minute * 60 + second) * 1_000_000 + millis * 1000
        )
    return None


_DATE_CACHE_SIZE = 4096
_DAYS_BY_DATE: dict[str, int] = {}
"""`YYYY-MM-DD` → days since the epoch, for valid dates only; event timestamps cluster on a
few recent dates, so this skips three int() parses and the calendar check per event."""


def _date_days(year: int, month: int, day: int) -> int | None:
    """Days since the epoch, or None if the date does not exist."""
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    return _days_from_civil(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


@lru_cache(maxsize=4096)
def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).

    Cached because event timestamps cluster on a handful of recent dates.
    """
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - _EPOCH_DAY_OFFSET
