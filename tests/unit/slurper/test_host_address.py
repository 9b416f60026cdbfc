from __future__ import annotations

import pytest
from relay_slurper.errors import HostBanned, HostRefused
from relay_slurper.host_address import check_not_banned, matches_domain, parse_host


@pytest.mark.parametrize(
    ("raw", "hostname"),
    [
        ("pds.example.com", "pds.example.com"),
        ("PDS.Example.COM", "pds.example.com"),
        ("https://pds.example.com", "pds.example.com"),
        ("wss://pds.example.com/", "pds.example.com"),
        ("pds.example.com.", "pds.example.com"),
        ("  morel.us-east.host.bsky.network ", "morel.us-east.host.bsky.network"),
    ],
)
def test_public_hostnames_parse_to_their_store_key(raw: str, hostname: str) -> None:
    address = parse_host(raw, dev_mode=False)
    assert address.hostname == hostname
    assert address.tls is True
    assert address.subscribe_url(None) == f"wss://{hostname}/xrpc/com.atproto.sync.subscribeRepos"
    assert address.subscribe_url(42).endswith("subscribeRepos?cursor=42")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("127.0.0.1", "bad_hostname"),
        ("10.1.2.3", "bad_hostname"),
        ("[::1]", "bad_hostname"),
        ("::1", "port_not_allowed"),
        ("localhost", "bad_hostname"),
        ("localhost:2583", "port_not_allowed"),
        ("pds.example.com:443", "port_not_allowed"),
        ("http://pds.example.com", "plaintext_not_allowed"),
        ("ws://pds.example.com", "plaintext_not_allowed"),
        ("pds.example.com/xrpc", "bad_hostname"),
        ("user@pds.example.com", "bad_hostname"),
        ("under_score.example.com", "bad_hostname"),
        ("-lead.example.com", "bad_hostname"),
        ("com", "bad_hostname"),
        ("", "bad_hostname"),
        ("pds.local", "reserved_tld"),
        ("pds.internal", "reserved_tld"),
        ("x" * 64 + ".example.com", "bad_hostname"),
    ],
)
def test_production_refuses_ips_ports_plaintext_and_non_handles(raw: str, reason: str) -> None:
    with pytest.raises(HostRefused) as info:
        parse_host(raw, dev_mode=False)
    assert info.value.reason == reason


def test_dev_mode_allows_only_localhost_with_a_port_and_plaintext() -> None:
    address = parse_host("localhost:2583", dev_mode=True)
    assert (address.hostname, address.dns_name, address.port, address.tls) == (
        "localhost:2583",
        "localhost",
        2583,
        False,
    )
    assert address.subscribe_url(7) == "ws://localhost:2583/xrpc/com.atproto.sync.subscribeRepos?cursor=7"
    assert address.http_base == "http://localhost:2583"
    assert parse_host("https://localhost:2583", dev_mode=True).tls is True
    assert parse_host("localhost:2583", dev_mode=True, tls=True).http_base == "https://localhost:2583"
    assert parse_host("http://pds.example.com", dev_mode=True).tls is False
    for bad in ("example.com:2583", "127.0.0.1:2583", "localhost:0", "localhost:99999", "localhost:x"):
        with pytest.raises(HostRefused):
            parse_host(bad, dev_mode=True)


def test_domain_bans_cover_the_domain_and_every_name_under_it() -> None:
    bans = frozenset({"evil.com"})
    assert matches_domain("evil.com", bans)
    assert matches_domain("a.b.evil.com", bans)
    assert not matches_domain("notevil.com", bans)
    assert not matches_domain("evil.com.example.org", bans)
    with pytest.raises(HostBanned) as info:
        check_not_banned("pds.evil.com", bans)
    assert info.value.reason == "domain_banned"
    check_not_banned("pds.good.com", bans)
