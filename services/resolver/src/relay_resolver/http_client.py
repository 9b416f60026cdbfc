"""The one pooled HTTP client every DID document fetch goes through.

One `aiohttp.ClientSession` lives for the whole process: keep-alive connections to the PLC
directory are reused, and the connector has a hard connection cap, so neither a burst of misses
nor a slow host can grow sockets or buffers without limit. A client per request (what leaking
resolvers tend to do) costs a handshake each time and leaves pools for the garbage collector.
Cookies are never stored (`DummyCookieJar`): a jar would be one more thing growing per host.

Every response body is read in chunks against `max_document_bytes` and refused once it passes it;
compression is not offered (`Accept-Encoding: identity`) and not undone, so the limit is on bytes
that arrive, and a compressed reply is refused rather than inflated. Redirects are not followed: a
DID document lives at exactly one URL.

Why aiohttp and not httpx: measured in `bench/bench_resolver_soak.py` (docs/benchmarks.md),
httpx 0.28 / httpcore 1.0 spent ~8x more CPU per request in its pool bookkeeping (every request
walks every pooled connection and polls its socket, and retries internally under concurrency),
which capped the resolver at a few hundred fetches per second per core.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from relay_resolver.errors import FailureKind, ResolutionFailed

__all__ = ["DocumentFetcher", "HttpLimits", "LatencyObserver", "decode_json_body", "decode_response"]

LatencyObserver = Callable[[str, str, float], None]
"""Called as `(source, result, seconds)` after each request; `result` is a bounded label."""

_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLimits:
    """Bounds on the outbound HTTP client."""

    max_connections: int = 32
    """Open connections across all hosts; also the number of concurrent fetches."""
    keepalive_expiry_seconds: float = 30.0
    """Idle connections older than this are closed."""
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 5.0
    total_timeout_seconds: float = 10.0
    """Deadline for one whole fetch, so a host dripping bytes cannot hold a slot forever."""
    max_document_bytes: int = 64 * 1024
    """Larger DID documents are refused as invalid."""
    user_agent: str = "atproto-relay-resolver/0.1"


class DocumentFetcher:
    """GETs JSON documents with pooled connections, timeouts and a body size cap.

    Create it inside the running event loop (aiohttp binds its session to the loop).

    Args:
        limits: connection, timeout and size bounds.
        observe_latency: receives one observation per request (for the latency histogram).
        resolver: the connector's DNS resolver (e.g. `did_web.PublicAddressResolver`).
    """

    def __init__(
        self,
        limits: HttpLimits,
        *,
        observe_latency: LatencyObserver | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._limits = limits
        self._observe = observe_latency
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=limits.max_connections,
                limit_per_host=limits.max_connections,
                keepalive_timeout=limits.keepalive_expiry_seconds,
                ttl_dns_cache=300,
                resolver=resolver,
            ),
            timeout=aiohttp.ClientTimeout(
                total=limits.total_timeout_seconds,
                connect=limits.connect_timeout_seconds,
                sock_read=limits.read_timeout_seconds,
            ),
            headers={
                "Accept": "application/did+ld+json, application/json",
                "Accept-Encoding": "identity",
                "User-Agent": limits.user_agent,
            },
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    @property
    def limits(self) -> HttpLimits:
        return self._limits

    async def aclose(self) -> None:
        await self._session.close()

    async def fetch_json(self, url: str, *, source: str) -> dict[str, Any]:
        """GET `url` and return its body as a JSON object.

        Args:
            url: absolute http(s) URL.
            source: bounded label for the latency metric (`plc`, `web`).

        Raises:
            ResolutionFailed: NOT_FOUND (404), TOMBSTONED (410), UNREACHABLE (network, timeout,
                429, 5xx), INVALID_DOCUMENT (other statuses, oversize, not a JSON object).
        """
        return _json_object(
            await self.fetch_json_value(url, source=source, max_bytes=self._limits.max_document_bytes)
        )

    async def fetch_json_value(self, url: str, *, source: str, max_bytes: int) -> Any:
        """GET `url` and return its body as any JSON value of at most `max_bytes` (e.g. a PLC
        audit log, a list); failures as `fetch_json`."""
        started = time.perf_counter()
        result = "error"
        try:
            status, body = await self._get(url, max_bytes)
            result = _status_class(status)
            return decode_json_body(status, body, max_bytes)
        except TimeoutError as exc:
            result = "timeout"
            raise ResolutionFailed(FailureKind.UNREACHABLE, f"timed out fetching {url}") from exc
        except aiohttp.ClientError as exc:
            result = "network"
            raise ResolutionFailed(FailureKind.UNREACHABLE, f"fetching {url}: {type(exc).__name__}") from exc
        except ResolutionFailed as exc:
            if exc.kind is FailureKind.INVALID_DOCUMENT and result in ("error", "2xx"):
                result = "invalid"
            raise
        finally:
            if self._observe is not None:
                self._observe(source, result, time.perf_counter() - started)

    async def _get(self, url: str, limit: int) -> tuple[int, bytes]:
        async with self._session.get(url, allow_redirects=False) as response:
            if response.status != 200:
                # Drain a small error body so the keep-alive connection can be reused; a large one
                # is abandoned, which closes the connection instead.
                drained = 0
                async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                    drained += len(chunk)
                    if drained > limit:
                        break
                return response.status, b""
            encoding = response.headers.get("Content-Encoding", "identity").lower()
            if encoding not in ("identity", ""):
                raise ResolutionFailed(
                    FailureKind.INVALID_DOCUMENT, f"compressed document ({encoding}) refused"
                )
            declared = response.content_length
            if declared is not None and declared > limit:
                raise ResolutionFailed(
                    FailureKind.INVALID_DOCUMENT, f"document of {declared} bytes exceeds {limit}"
                )
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                body += chunk
                if len(body) > limit:
                    raise ResolutionFailed(FailureKind.INVALID_DOCUMENT, f"document exceeds {limit} bytes")
            return 200, bytes(body)


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


def decode_response(status: int, body: bytes, limit: int) -> dict[str, Any]:
    """Map a finished response to a document (a JSON object) or the failure it means.

    Raises:
        ResolutionFailed: as `DocumentFetcher.fetch_json`.
    """
    return _json_object(decode_json_body(status, body, limit))


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ResolutionFailed(FailureKind.INVALID_DOCUMENT, "document is not a JSON object")
    return value


def decode_json_body(status: int, body: bytes, limit: int) -> Any:
    """Map a finished response to its JSON value or the failure it means.

    Raises:
        ResolutionFailed: as `DocumentFetcher.fetch_json`, without the JSON-object check.
    """
    if status == 404:
        raise ResolutionFailed(FailureKind.NOT_FOUND, "DID not found (404)")
    if status == 410:
        raise ResolutionFailed(FailureKind.TOMBSTONED, "DID deactivated (410)")
    if status == 429 or status >= 500:
        raise ResolutionFailed(FailureKind.UNREACHABLE, f"server answered {status}")
    if status != 200:
        raise ResolutionFailed(FailureKind.INVALID_DOCUMENT, f"unexpected status {status}")
    if len(body) > limit:
        raise ResolutionFailed(FailureKind.INVALID_DOCUMENT, f"document exceeds {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResolutionFailed(FailureKind.INVALID_DOCUMENT, "document is not JSON") from exc
