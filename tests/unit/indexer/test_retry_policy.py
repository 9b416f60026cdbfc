"""Retry decisions: server-asked delays (Retry-After, RateLimit-Reset), backoff, what is retried."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from relay_indexer.retry_policy import RetryPolicy, pause_after_success, server_delay_seconds

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"RateLimit-Reset": str(int(NOW) + 12)}, 12.0),  # PDS style: a Unix timestamp
        ({"ratelimit-reset": "5"}, 5.0),  # IETF draft style: seconds
        ({"Retry-After": "3", "RateLimit-Reset": "50"}, 3.0),  # Retry-After wins
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "999999"}, 3600.0),  # clamped: a bogus value must not stall a job
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_server_delay(headers: dict[str, str], expected: float | None) -> None:
    delay = server_delay_seconds(headers, now=NOW)
    assert delay == pytest.approx(expected, abs=1.0) if expected is not None else delay is None


def test_pause_after_success_only_when_quota_is_used_up() -> None:
    reset = {"ratelimit-reset": str(int(NOW) + 9)}
    assert pause_after_success({"ratelimit-remaining": "0", **reset}, now=NOW) == pytest.approx(9.0)
    assert pause_after_success({"ratelimit-remaining": "12", **reset}, now=NOW) is None
    assert pause_after_success({"ratelimit-remaining": "0"}, now=NOW) is None
    assert pause_after_success({}, now=NOW) is None


def test_backoff_doubles_with_jitter_and_caps() -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=10.0)
    assert [policy.backoff_seconds(a, jitter=0.999999) for a in (1, 2, 3)] == pytest.approx(
        [1, 2, 4], rel=1e-3
    )
    assert policy.backoff_seconds(1, jitter=0.0) == 0.5
    assert policy.backoff_seconds(20, jitter=0.999999) == pytest.approx(10.0, rel=1e-3)


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (None, True),
        (429, True),
        (500, True),
        (503, True),
        (408, True),
        (400, False),
        (404, False),
        (501, False),
    ],
)
def test_what_is_retried(status: int | None, retried: bool) -> None:
    policy = RetryPolicy(max_attempts=3)
    delay = policy.retry_delay_seconds(1, status=status, headers={}, now=NOW, jitter=0.5)
    assert (delay is not None) is retried


def test_rate_limit_waits_at_least_what_the_server_asked() -> None:
    policy = RetryPolicy(base_seconds=0.01, max_seconds=0.05)
    assert policy.retry_delay_seconds(1, status=429, headers={"Retry-After": "4"}, now=NOW, jitter=0.5) == 4.0
    # A 5xx with Retry-After 0 still backs off a little instead of hammering.
    assert policy.retry_delay_seconds(1, status=503, headers={"Retry-After": "0"}, now=NOW, jitter=0.5) > 0


def test_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.retry_delay_seconds(2, status=503, headers={}, now=NOW, jitter=0.5) is not None
    assert policy.retry_delay_seconds(3, status=503, headers={}, now=NOW, jitter=0.5) is None
