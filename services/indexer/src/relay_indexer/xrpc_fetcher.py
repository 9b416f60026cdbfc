"""GET an XRPC query from another relay or a PDS, politely, with retries.

Per origin (scheme://host:port) the fetcher keeps a concurrency cap, a minimum interval between
request starts (the configured pacing) and a "not before" time: a 429, or a success reporting
`RateLimit-Remaining: 0`, holds *every* request to that origin until the server's reset, not
just the one that was refused. Timeouts, connection failures, 408/429/5xx are retried with the
`RetryPolicy`; other 4xx raise `UpstreamRejected` at once. The decisions are in `retry_policy`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from relay_indexer import metrics
from relay_indexer.errors import InvalidPage, UpstreamRejected, UpstreamUnavailable
from relay_indexer.retry_policy import RetryPolicy, pause_after_success

__all__ = ["FetchedJson", "XrpcFetcher"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchedJson:
    """A decoded JSON body and its size on the wire (for the progress byte count)."""

    body: object
    size_bytes: int


@dataclass(slots=True)
class _Origin:
    slots: asyncio.Semaphore
    not_before: float = 0.0
    last_start: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class XrpcFetcher:
    """Shared by every backfill job of a process, so per-origin limits hold across jobs.

    Args:
        client: The HTTP client (its timeout applies per request).
        policy: Attempts and backoff.
        interval_seconds: Minimum time between two request starts to one origin.
        per_origin_concurrency: Requests in flight per origin.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        interval_seconds: float,
        per_origin_concurrency: int,
    ) -> None:
        self._client = client
        self._policy = policy
        self._interval = interval_seconds
        self._concurrency = per_origin_concurrency
        self._origins: dict[str, _Origin] = {}
        self._random = random.Random()

    async def get_json(self, base_url: str, nsid: str, params: Mapping[str, str | int]) -> FetchedJson:
        """`GET {base_url}/xrpc/{nsid}?params`, retried per the policy.

        Raises:
            UpstreamRejected: a 4xx that retrying cannot fix.
            UpstreamUnavailable: retries exhausted (last status or error in the message).
            InvalidPage: the body is not JSON.
        """
        origin = self._origin(base_url)
        url = f"{base_url.rstrip('/')}/xrpc/{nsid}"
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            headers: Mapping[str, str] = {}
            async with origin.slots:
                await self._wait_turn(origin)
                try:
                    response = await self._client.get(url, params=params)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    outcome, detail = "transport_error", f"{type(exc).__name__}: {exc}"
                else:
                    status, headers = response.status_code, response.headers
                    if status == 200:
                        metrics.BACKFILL_REQUESTS_TOTAL.labels("ok").inc()
                        self._hold_if_exhausted(origin, headers)
                        return _decode(response, nsid)
                    outcome = "rate_limited" if status == 429 else "server_error"
                    detail = f"HTTP {status}"
            if status is not None and 400 <= status < 500 and status not in (408, 425, 429):
                metrics.BACKFILL_REQUESTS_TOTAL.labels("rejected").inc()
                raise UpstreamRejected(
                    f"{nsid} at {base_url}: HTTP {status}", status=status, error=_error_name(response)
                )
            metrics.BACKFILL_REQUESTS_TOTAL.labels(outcome).inc()
            delay = self._policy.retry_delay_seconds(
                attempt, status=status, headers=headers, now=time.time(), jitter=self._random.random()
            )
            if delay is None:
                raise UpstreamUnavailable(f"{nsid} at {base_url}: {detail} after {attempt} attempts")
            if status == 429:
                # Everyone waits for this origin, not just this request.
                origin.not_before = max(origin.not_before, time.monotonic() + delay)
            logger.info(
                "upstream retry",
                extra={"host": base_url, "nsid": nsid, "attempt": attempt, "detail": detail, "delay": delay},
            )
            await asyncio.sleep(delay)

    def _origin(self, base_url: str) -> _Origin:
        key = httpx.URL(base_url).copy_with(path="/", query=None).__str__()
        if key not in self._origins:
            self._origins[key] = _Origin(asyncio.Semaphore(self._concurrency))
        return self._origins[key]

    async def _wait_turn(self, origin: _Origin) -> None:
        # One start at a time per origin, spaced by the interval and any server-imposed hold.
        async with origin.lock:
            while True:
                now = time.monotonic()
                start = max(origin.not_before, origin.last_start + self._interval)
                if start <= now:
                    origin.last_start = now
                    return
                await asyncio.sleep(start - now)

    @staticmethod
    def _hold_if_exhausted(origin: _Origin, headers: Mapping[str, str]) -> None:
        pause = pause_after_success(headers, now=time.time())
        if pause:
            origin.not_before = max(origin.not_before, time.monotonic() + pause)


def _decode(response: httpx.Response, nsid: str) -> FetchedJson:
    try:
        return FetchedJson(response.json(), len(response.content))
    except ValueError as exc:
        raise InvalidPage(f"{nsid}: body is not JSON") from exc


def _error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
