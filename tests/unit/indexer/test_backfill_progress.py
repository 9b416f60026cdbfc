"""Rate over a sliding window and the ETA rules."""

from __future__ import annotations

import pytest
from relay_indexer.backfill_progress import RateMeter, eta_seconds


def test_rate_over_window() -> None:
    meter = RateMeter(window_seconds=10.0)
    meter.start(100.0)
    meter.add(101.0, 1000)
    meter.add(102.0, 1000)
    assert meter.rate(102.0) == pytest.approx(1000.0)  # 2000 DIDs over the 2 s since start
    assert meter.rate(111.5) == pytest.approx(1000 / 10)  # the first sample left the window
    assert meter.rate(130.0) == 0.0


def test_rate_before_anything() -> None:
    assert RateMeter().rate(5.0) == 0.0


def test_eta_from_known_total() -> None:
    assert (
        eta_seconds(total=10_000, done=4_000, rate=100.0, items_total=2, items_done=0, elapsed_seconds=60)
        == 60
    )


def test_eta_from_items_when_total_unknown() -> None:
    assert eta_seconds(total=0, done=5_000, rate=100.0, items_total=4, items_done=1, elapsed_seconds=30) == 90
    assert eta_seconds(total=0, done=5_000, rate=100.0, items_total=4, items_done=0, elapsed_seconds=30) == -1


def test_eta_zero_when_every_item_is_done() -> None:
    assert eta_seconds(total=0, done=1, rate=0.0, items_total=3, items_done=3, elapsed_seconds=1) == 0
