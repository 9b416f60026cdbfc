"""The public origin's routing table and the little HTTP/1.1 head handling the router needs.

Pure functions only; `relay_devstack.router` does the sockets. The table mirrors what the k3s
ingress does, so a client pointed at the dev origin sees one relay, not six services.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from relay_devstack.errors import DevstackError

__all__ = [
    "ROUTES",
    "Backend",
    "InvalidRequestHead",
    "RequestHead",
    "parse_request_head",
    "route_for",
]


class Backend(StrEnum):
    """Services with a public HTTP port."""

    FIREHOSE = "firehose"
    SLURPER = "slurper"
    INDEXER = "indexer"


ROUTES: tuple[tuple[str, Backend], ...] = (
    ("/xrpc/com.atproto.sync.subscribeRepos", Backend.FIREHOSE),
    ("/xrpc/com.atproto.sync.requestCrawl", Backend.SLURPER),
    ("/xrpc/", Backend.INDEXER),
)
"""First match wins. Entries ending in ``/`` match as prefixes, others as exact XRPC method paths
(so ``subscribeReposX`` does not reach the firehose)."""


class InvalidRequestHead(DevstackError):
    """The bytes before the blank line are not an HTTP/1.x request head."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    """Request line plus headers, in arrival order, names as sent."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        target = self.target
        if "://" in target:  # absolute-form, as a proxy-minded client may send
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        return target.partition("?")[0]

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def is_upgrade(self) -> bool:
        """True for WebSocket (and any other) upgrades, which must keep the connection open."""
        connection = (self.header("connection") or "").lower()
        return "upgrade" in {token.strip() for token in connection.split(",")}

    def encode_for_backend(self, client_ip: str) -> bytes:
        """The head to replay to the backend.

        Plain requests get ``Connection: close``: the backend then ends the connection after its
        response, so each client connection carries exactly one request and can never reach the
        wrong backend on a later keep-alive request. Upgrades pass through with their own
        ``Connection`` header. ``X-Forwarded-For`` carries the client's address (requestCrawl
        rate limits key on it).
        """
        hop_by_hop = (
            {"x-forwarded-for"} if self.is_upgrade else {"connection", "keep-alive", "x-forwarded-for"}
        )
        lines = [f"{self.method} {self.target} {self.version}"]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() not in hop_by_hop]
        forwarded = self.header("x-forwarded-for")
        lines.append(f"X-Forwarded-For: {forwarded + ', ' if forwarded else ''}{client_ip}")
        if not self.is_upgrade:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_request_head(raw: bytes) -> RequestHead:
    """Parse the bytes up to and including the blank line ending the head.

    Raises:
        InvalidRequestHead: malformed request line or header.
    """
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise InvalidRequestHead(f"bad request line {lines[0][:100]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise InvalidRequestHead(f"bad header line {line[:100]!r}")
        headers.append((name, value.strip()))
    return RequestHead(method=parts[0], target=parts[1], version=parts[2], headers=tuple(headers))


def route_for(path: str) -> Backend | None:
    """The backend serving ``path``, or None (the router answers 404)."""
    for pattern, backend in ROUTES:
        if path == pattern or (pattern.endswith("/") and path.startswith(pattern)):
            return backend
    return None
