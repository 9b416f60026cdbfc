"""CLI rendering: exact table layout, durations, the progress bar."""

from __future__ import annotations

import pytest
from relay_admin.tables import format_duration, format_table, format_time_us, progress_bar


def test_tables_align_text_left_and_numbers_right() -> None:
    text = format_table(
        ["host", "connected", "cursor", "events/s", "note"],
        [("a.example.com", True, 1234567, 12.25, None), ("bb.example", False, 5, 0.0, "kicked")],
    )
    assert text.splitlines() == [
        "HOST           CONNECTED     CURSOR  EVENTS/S  NOTE",
        "a.example.com  yes        1,234,567      12.2  -",
        "bb.example     no                 5       0.0  kicked",
    ]


def test_an_empty_table_says_so() -> None:
    assert format_table(["domain", "reason"], []) == "DOMAIN  REASON\n(none)"


def test_rows_must_fit_the_header() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        format_table(["a", "b", "c"], [(1, 2)])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1, "?"), (0, "0s"), (45, "45s"), (185, "3m05s"), (7800, "2h10m"), (273600, "3d04h")],
)
def test_durations_show_the_two_largest_units(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_times_are_utc_and_zero_is_never() -> None:
    assert format_time_us(0) == "-"
    assert format_time_us(1_700_000_000_000_000) == "2023-11-14 22:13:20Z"


def test_progress_bar() -> None:
    line = progress_bar(done=3000, total=10000, rate=120.5, eta_seconds=58, state="running", width=10)
    assert line == "[###.......]  30.0%  3,000/10,000 repos  120.5/s  ETA 58s  running"
    unknown = progress_bar(done=0, total=0, rate=0.0, eta_seconds=-1, state="pending", width=4)
    assert unknown == "[....]     ?%  0/0 repos  0.0/s  ETA ?  pending"
    over = progress_bar(done=11, total=10, rate=1.0, eta_seconds=0, state="done", width=4)
    assert over.startswith("[####] 100.0%")
