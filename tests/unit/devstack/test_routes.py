"""Router path table and request-head handling."""

from __future__ import annotations

import pytest
from relay_devstack.routes import Backend, InvalidRequestHead, parse_request_head, route_for


@pytest.mark.parametrize(
    ("path", "backend"),
    [
        ("/xrpc/com.atproto.sync.subscribeRepos", Backend.FIREHOSE),
        ("/xrpc/com.atproto.sync.requestCrawl", Backend.SLURPER),
        ("/xrpc/com.atproto.sync.getRepo", Backend.INDEXER),
        ("/xrpc/com.atproto.sync.listRepos", Backend.INDEXER),
        ("/xrpc/com.atproto.sync.subscribeReposX", Backend.INDEXER),
        ("/xrpc/_health", Backend.INDEXER),
        ("/", None),
        ("/xrpc", None),
        ("/metrics", None),
        ("/favicon.ico", None),
    ],
)
def test_route_for(path: str, backend: Backend | None) -> None:
    assert route_for(path) == backend


def test_path_drops_query_and_absolute_form() -> None:
    head = parse_request_head(
        b"GET /xrpc/com.atproto.sync.subscribeRepos?cursor=5 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert head.path == "/xrpc/com.atproto.sync.subscribeRepos"
    absolute = parse_request_head(b"GET http://relay.test/xrpc/a.b.c?x=1 HTTP/1.1\r\n\r\n")
    assert absolute.path == "/xrpc/a.b.c"


def test_plain_request_is_forwarded_with_connection_close() -> None:
    head = parse_request_head(
        b"GET /xrpc/a.b.c HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
    )
    assert not head.is_upgrade
    out = head.encode_for_backend("127.0.0.9").decode()
    assert out.startswith("GET /xrpc/a.b.c HTTP/1.1\r\nHost: x\r\n")
    assert "keep-alive" not in out.lower()
    assert out.endswith("X-Forwarded-For: 127.0.0.9\r\nConnection: close\r\n\r\n")


def test_upgrade_keeps_its_connection_header_and_appends_forwarded_for() -> None:
    head = parse_request_head(
        b"GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1\r\nHost: x\r\n"
        b"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"
    )
    assert head.is_upgrade
    out = head.encode_for_backend("127.0.0.1").decode()
    assert "Connection: keep-alive, Upgrade\r\n" in out
    assert "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n" in out
    assert "Connection: close" not in out


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /x HTTP/2\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno-colon-here\r\n\r\n",
        b"GET /x HTTP/1.1\r\n Folded: header\r\n\r\n",
    ],
)
def test_malformed_heads_are_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidRequestHead):
        parse_request_head(raw)
