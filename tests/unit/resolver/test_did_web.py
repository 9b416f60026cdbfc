from __future__ import annotations

import socket

import pytest
from relay_core.syntax import Did
from relay_resolver.did_web import DidWebSource, did_web_document_url, is_public_address
from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.http_client import DocumentFetcher, HttpLimits


@pytest.mark.parametrize(
    ("did", "dev_mode", "url"),
    [
        ("did:web:example.com", False, "https://example.com/.well-known/did.json"),
        ("did:web:sub.example.com", True, "https://sub.example.com/.well-known/did.json"),
        ("did:web:localhost%3A8080", True, "http://localhost:8080/.well-known/did.json"),
        ("did:web:localhost%3a8080", True, "http://localhost:8080/.well-known/did.json"),
        ("did:web:localhost", True, "http://localhost/.well-known/did.json"),
    ],
)
def test_document_url(did: str, dev_mode: bool, url: str) -> None:
    assert did_web_document_url(Did(did), dev_mode=dev_mode) == url


@pytest.mark.parametrize(
    ("did", "dev_mode", "why"),
    [
        ("did:web:localhost%3A8080", False, "outside dev mode"),
        ("did:web:localhost", False, "outside dev mode"),
        ("did:web:example.com%3A8443", True, "only allowed on localhost"),
        ("did:web:example.com%3A8443", False, "only allowed on localhost"),
        ("did:web:127.0.0.1", False, "not an IP"),
        ("did:web:example.com:path", False, "path"),
        ("did:web:localhost%3A99999", True, "port"),
        ("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", True, "not a did:web"),
    ],
)
def test_refused_document_urls(did: str, dev_mode: bool, why: str) -> None:
    with pytest.raises(ResolutionFailed, match=why) as info:
        did_web_document_url(Did(did), dev_mode=dev_mode)
    assert info.value.kind is FailureKind.INVALID_DID


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("not-an-ip", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def _source(addresses: list[str] | Exception) -> tuple[DidWebSource, DocumentFetcher]:
    async def lookup(host: str) -> list[str]:
        if isinstance(addresses, Exception):
            raise addresses
        return addresses

    fetcher = DocumentFetcher(HttpLimits())
    return DidWebSource(fetcher, dev_mode=False, lookup=lookup), fetcher


@pytest.mark.parametrize(
    ("addresses", "kind"),
    [
        (["10.0.0.7"], FailureKind.INVALID_DID),
        (["93.184.216.34", "127.0.0.1"], FailureKind.INVALID_DID),
        ([], FailureKind.NOT_FOUND),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), FailureKind.NOT_FOUND),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), FailureKind.UNREACHABLE),
    ],
)
async def test_non_public_hosts_are_refused_before_connecting(
    addresses: list[str] | Exception, kind: FailureKind
) -> None:
    source, fetcher = _source(addresses)
    try:
        with pytest.raises(ResolutionFailed) as info:
            await source.fetch_document(Did("did:web:internal.example.com"))
        assert info.value.kind is kind
    finally:
        await fetcher.aclose()
