from __future__ import annotations

import pytest
from relay_slurper.crawl_policy import NewHostQuota
from relay_slurper.errors import HostBanned
from relay_slurper.host_store import CrawlPolicy
from relay_slurper.relay_guard import check_not_relay, is_relay_server_header


@pytest.mark.parametrize(
    "value", ["atproto-relay", "atproto-relay/0.1", "Atproto-Relay", "bigsky", "nginx atproto-relay/2"]
)
def test_relay_server_headers_are_recognised(value: str) -> None:
    assert is_relay_server_header(value)
    with pytest.raises(HostBanned) as info:
        check_not_relay(value)
    assert info.value.reason == "relay_loop"


@pytest.mark.parametrize("value", [None, "", "nginx", "uvicorn", "Caddy", "relay-ish-pds", "atproto-pds"])
def test_pds_server_headers_pass(value: str | None) -> None:
    assert not is_relay_server_header(value)
    check_not_relay(value)


def test_new_host_quota_is_a_rolling_day() -> None:
    quota = NewHostQuota()
    policy = CrawlPolicy(public_request_crawl=True, new_hosts_per_day=2)
    assert quota.try_admit(0.0, policy)
    assert quota.try_admit(10.0, policy)
    assert not quota.try_admit(20.0, policy)
    assert quota.used(86399.0) == 2
    assert quota.try_admit(86400.5, policy)  # the first admission aged out
    assert not quota.try_admit(86400.6, policy)
    assert not NewHostQuota().try_admit(0.0, CrawlPolicy(public_request_crawl=True, new_hosts_per_day=0))
