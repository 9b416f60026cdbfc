from __future__ import annotations

import pytest
from relay_slurper.address_policy import is_public_address


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "151.101.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888"],
)
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "240.0.0.1",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "2002:7f00:0001::",  # 6to4 wrapping 127.0.0.1
        "2001:db8::1",
        "not-an-ip",
    ],
)
def test_private_reserved_loopback_and_wrapped_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
