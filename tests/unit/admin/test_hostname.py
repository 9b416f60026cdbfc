"""Operator input parsing: hostnames, domain suffixes, DIDs."""

from __future__ import annotations

import pytest
from relay_admin.errors import InvalidInput
from relay_admin.hostname import host_under_domain, parse_account_did, parse_domain, parse_hostname


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pds.example.com", "pds.example.com"),
        ("  PDS.Example.COM. ", "pds.example.com"),
        ("a-b.c.d.example", "a-b.c.d.example"),
    ],
)
def test_hostnames_are_normalised(raw: str, expected: str) -> None:
    assert parse_hostname(raw, dev_mode=False) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "required"),
        ("https://pds.example.com", "bare hostname"),
        ("pds.example.com/xrpc", "bare hostname"),
        ("user@pds.example.com", "bare hostname"),
        ("pds example.com", "bare hostname"),
        ("pds.example.com:443", "ports are only allowed"),
        ("localhost:2583", "ports are only allowed"),
        ("nodots", "not a hostname"),
        ("-bad.example.com", "not a hostname"),
        ("a" * 301, "too long"),
    ],
)
def test_malformed_hostnames_are_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_hostname(raw, dev_mode=False)


def test_dev_mode_allows_localhost_with_a_port_only() -> None:
    assert parse_hostname("LOCALHOST:02583", dev_mode=True) == "localhost:2583"
    for bad in ("localhost:0", "localhost:70000", "localhost:http", "example.com:80"):
        with pytest.raises(InvalidInput):
            parse_hostname(bad, dev_mode=True)


def test_domains_may_be_single_labels() -> None:
    assert parse_domain("Example.COM") == "example.com"
    assert parse_domain("test") == "test"
    for bad in ("", "-x", "exa_mple", "example.com:80", "http://example.com", "a..b"):
        with pytest.raises(InvalidInput):
            parse_domain(bad)


@pytest.mark.parametrize(
    ("hostname", "domain", "under"),
    [
        ("example.com", "example.com", True),
        ("a.b.example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com.evil", "example.com", False),
        ("localhost:2583", "localhost", True),
        ("pds.test", "test", True),
    ],
)
def test_a_domain_ban_covers_the_domain_and_its_subdomains(hostname: str, domain: str, under: bool) -> None:
    assert host_under_domain(hostname, domain) is under


def test_dids_are_parsed_with_relay_core_syntax() -> None:
    assert parse_account_did(" did:plc:abcdefghijklmnopqrstuvwx ") == "did:plc:abcdefghijklmnopqrstuvwx"
    for bad in ("", "plc:abc", "did:PLC:abc", "did:plc:", "at://did:plc:abc"):
        with pytest.raises(InvalidInput):
            parse_account_did(bad)
