"""When to retry an upstream request and how long to wait first, kept pure (no clock, no I/O).

Politeness comes first: a 429 waits at least as long as the server asked, read from
`Retry-After` (seconds or an HTTP date, RFC 9110) or the `RateLimit-Reset` header the atproto PDS
sends (NOTE: the PDS sends a Unix timestamp there, while the IETF RateLimit draft sends a delta
in seconds; values above one billion are taken as timestamps). A success that reports
`RateLimit-Remaining: 0` also pauses the origin until the reset, so we stop before being refused.
Otherwise retries back off exponentially (half jitter, so concurrent retries spread), capped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "pause_after_success", "server_delay_seconds"]

RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_EPOCH_THRESHOLD: Final = 1_000_000_000.0
_MAX_SERVER_DELAY_SECONDS: Final = 3600.0


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip()
    return None


def _seconds_from(value: str, now: float) -> float | None:
    try:
        number = float(value)
    except ValueError:
        try:
            when: float = parsedate_to_datetime(value).timestamp()
            return when - now
        except (TypeError, ValueError):
            return None
    return number - now if number > _EPOCH_THRESHOLD else number


def server_delay_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """How long the server asked us to wait (Retry-After, else RateLimit-Reset), or None.

    Args:
        headers: Response headers (any case).
        now: Current Unix time, for HTTP dates and timestamps.

    Returns:
        Seconds, clamped to [0, 1 h] (a bogus far-future date must not stall a job for days).
    """
    for name in ("retry-after", "ratelimit-reset"):
        raw = _header(headers, name)
        if raw:
            delay = _seconds_from(raw, now)
            if delay is not None:
                return min(max(delay, 0.0), _MAX_SERVER_DELAY_SECONDS)
    return None


def pause_after_success(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to hold the origin after a success that used up its quota, or None."""
    remaining = _header(headers, "ratelimit-remaining")
    if remaining is None:
        return None
    try:
        if int(remaining) > 0:
            return None
    except ValueError:
        return None
    raw = _header(headers, "ratelimit-reset")
    delay = _seconds_from(raw, now) if raw else None
    return None if delay is None else min(max(delay, 0.0), _MAX_SERVER_DELAY_SECONDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Attempts and backoff for one upstream request."""

    max_attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 60.0

    def backoff_seconds(self, attempt: int, *, jitter: float) -> float:
        """Exponential backoff with half jitter before retry number `attempt` (1 = first retry).

        Args:
            attempt: 1-based retry number.
            jitter: A uniform random value in [0, 1) (passed in so this stays deterministic).
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * jitter)

    def retry_delay_seconds(
        self, attempt: int, *, status: int | None, headers: Mapping[str, str], now: float, jitter: float
    ) -> float | None:
        """The wait before retrying after a failed attempt, or None when not to retry.

        Args:
            attempt: How many attempts were made so far (1 after the first).
            status: HTTP status, or None for a timeout / connection failure.
            headers: Response headers (empty without a response).
            now: Current Unix time.
            jitter: Uniform random value in [0, 1).
        """
        if attempt >= self.max_attempts:
            return None
        if status is not None and status not in RETRYABLE_STATUSES:
            return None
        backoff = self.backoff_seconds(attempt, jitter=jitter)
        asked = server_delay_seconds(headers, now=now) if status in (429, 503) else None
        return backoff if asked is None else max(asked, min(backoff, 1.0))
