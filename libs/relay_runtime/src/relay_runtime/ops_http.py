"""The ops HTTP server: ``/healthz``, ``/readyz``, ``/metrics`` on a port of its own.

A few dozen lines of asyncio instead of uvicorn+starlette: probes and scrapes are tiny GETs,
and a second ASGI server per process would also fight the runtime for signal handling.
Only ``GET``/``HEAD`` are answered; connections are closed after each response.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Final

from prometheus_client import CollectorRegistry

from relay_runtime import metrics
from relay_runtime.readiness import Readiness

__all__ = ["OpsServer"]

logger = logging.getLogger(__name__)

_MAX_REQUEST_HEAD_BYTES: Final = 8192
_READ_TIMEOUT_SECONDS: Final = 5.0
_REASONS: Final = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class OpsServer:
    """Serves liveness, readiness and metrics for one process."""

    def __init__(
        self,
        readiness: Readiness,
        *,
        service: str,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = metrics.REGISTRY,
    ) -> None:
        self._readiness = readiness
        self._service = service
        self._host = host
        self._port = port
        self._registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("ops server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        logger.info("ops http listening", extra={"port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_SECONDS)
            if len(head) > _MAX_REQUEST_HEAD_BYTES:
                return
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            status, content_type, body = await self._respond(method, path)
            reason = _REASONS.get(status, "")
            header = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(header if method == "HEAD" else header + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    async def _respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/healthz":
            return 200, "application/json", b'{"alive":true}\n'
        if path == "/readyz":
            report = await self._readiness.evaluate()
            metrics.READY.labels(self._service).set(1 if report.ready else 0)
            body = (json.dumps(report.to_json()) + "\n").encode()
            return (200 if report.ready else 503), "application/json", body
        if path == "/metrics":
            return 200, metrics.CONTENT_TYPE, metrics.render(self._registry)
        return 404, "text/plain", b"not found\n"
