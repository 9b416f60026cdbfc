from __future__ import annotations

import pytest
from relay_slurper.backoff import BackoffPolicy, reconnect_delay

POLICY = BackoffPolicy(base_seconds=1.0, max_seconds=60.0, offline_after=10, offline_retry_seconds=1800.0)


def test_no_failure_no_wait() -> None:
    assert reconnect_delay(0, POLICY, 0.5) == 0.0


def test_delay_doubles_per_failure_up_to_the_cap() -> None:
    upper = [reconnect_delay(n, POLICY, 0.999999) for n in range(1, 10)]
    assert upper == pytest.approx([1, 2, 4, 8, 16, 32, 60, 60, 60], rel=1e-5)


def test_jitter_spreads_over_the_upper_half() -> None:
    assert reconnect_delay(4, POLICY, 0.0) == 4.0
    assert reconnect_delay(4, POLICY, 0.5) == 6.0
    assert 4.0 <= reconnect_delay(4, POLICY, 0.3) < 8.0


def test_offline_hosts_are_retried_slowly_forever() -> None:
    assert not POLICY.is_offline(9)
    assert POLICY.is_offline(10)
    for failures in (10, 15, 16, 100, 10_000):
        assert 900.0 <= reconnect_delay(failures, POLICY, 0.7) < 1800.0
