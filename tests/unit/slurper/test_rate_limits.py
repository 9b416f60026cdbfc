from __future__ import annotations

import random

import pytest
from relay_slurper.rate_limits import RateLimiter, RateLimits, limits_for_host

BASE = RateLimits(per_second=50, per_hour=2500, per_day=20000)


def test_limits_scale_with_account_limit_and_trust_and_yield_to_overrides() -> None:
    small = limits_for_host(account_limit=100, trusted=False, base=BASE, trusted_multiplier=10)
    assert small == RateLimits(per_second=50, per_hour=2600, per_day=21000)
    big = limits_for_host(account_limit=1_000_000, trusted=False, base=BASE, trusted_multiplier=10)
    assert big == RateLimits(per_second=1050, per_hour=1_002_500, per_day=10_020_000)
    trusted = limits_for_host(account_limit=100, trusted=True, base=BASE, trusted_multiplier=10)
    assert trusted == RateLimits(per_second=500, per_hour=26000, per_day=210000)
    overridden = limits_for_host(
        account_limit=100,
        trusted=False,
        base=BASE,
        trusted_multiplier=10,
        overrides=RateLimits(per_second=5, per_hour=0, per_day=0),
    )
    assert overridden == RateLimits(per_second=5, per_hour=2600, per_day=21000)


def test_second_window_blocks_until_the_next_second_without_counting() -> None:
    limiter = RateLimiter(RateLimits(per_second=3, per_hour=100, per_day=1000))
    now = 1000.25
    assert [limiter.acquire(now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire(now) == pytest.approx(0.75)
    assert limiter.acquire(now + 0.5) == pytest.approx(0.25)  # refused attempts are not counted
    assert limiter.acquire(1001.0) == 0.0
    assert limiter.acquire(1001.0) == 0.0


def test_hour_and_day_windows_block_across_seconds() -> None:
    limiter = RateLimiter(RateLimits(per_second=100, per_hour=5, per_day=1000))
    start = 7200.0
    for i in range(5):
        assert limiter.acquire(start + i) == 0.0
    assert limiter.acquire(start + 10) == pytest.approx(3600 - 10)
    assert limiter.acquire(start + 3600) == 0.0
    daily = RateLimiter(RateLimits(per_second=100, per_hour=100, per_day=2))
    assert daily.acquire(86400.0 * 3 + 5) == 0.0
    assert daily.acquire(86400.0 * 3 + 7200) == 0.0
    assert daily.acquire(86400.0 * 3 + 9000) == pytest.approx(86400 - 9000)


def test_the_longest_blocking_window_decides_the_wait() -> None:
    limiter = RateLimiter(RateLimits(per_second=1, per_hour=1, per_day=10))
    assert limiter.acquire(3600.5) == 0.0
    assert limiter.acquire(3600.6) == pytest.approx(3600 - 0.6)
    limiter.update(RateLimits(per_second=1, per_hour=10, per_day=10))
    assert limiter.acquire(3600.7) == pytest.approx(0.3)


def _reference_acquire(limits: RateLimits, starts: list[float], counts: list[int], now: float) -> float:
    """The windows as specified, recomputed on every call (what the fast path must agree with)."""
    wait = 0.0
    for i, (size, cap) in enumerate(
        ((1.0, limits.per_second), (3600.0, limits.per_hour), (86400.0, limits.per_day))
    ):
        start = now - now % size
        if start != starts[i]:
            starts[i], counts[i] = start, 0
        if counts[i] >= cap:
            wait = max(wait, start + size - now)
    if wait > 0.0:
        return wait
    for i in range(3):
        counts[i] += 1
    return 0.0


@pytest.mark.parametrize("seed", range(20))
def test_every_answer_matches_the_windows_recomputed_each_call(seed: int) -> None:
    rng = random.Random(seed)
    limits = RateLimits(
        per_second=rng.randint(1, 6), per_hour=rng.randint(5, 40), per_day=rng.randint(20, 80)
    )
    limiter = RateLimiter(limits)
    starts, counts = [0.0, 0.0, 0.0], [0, 0, 0]
    now = rng.uniform(0, 86400 * 3)
    for _ in range(2000):
        # Mostly bursts inside one second, sometimes across second, hour and day bounds.
        now += rng.choice((0.0, 0.001, 0.01, 0.3, 0.999, 1.0, 59.0, 3599.5, 40000.0))
        if rng.random() < 0.01:
            limits = RateLimits(per_second=rng.randint(1, 6), per_hour=rng.randint(5, 40), per_day=80)
            limiter.update(limits)
        assert limiter.acquire(now) == _reference_acquire(limits, starts, counts, now)
