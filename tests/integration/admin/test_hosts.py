"""Host, domain-ban and crawl-policy operations through admin, against real peers and a
simulated PDS; each change is read back from the owning service's store."""

from __future__ import annotations

import grpc
import pytest
from relay_indexer.host import HostStatus
from relay_proto.admin.v1 import admin_pb2 as pb
from relay_proto.types.v1 import types_pb2

from tests.integration.admin.conftest import Relay, wait_for
from tools.netsim.network import Network

pytestmark = pytest.mark.integration


async def _code(awaitable: object) -> tuple[grpc.StatusCode, str]:
    try:
        await awaitable  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _connected(relay: Relay, hostname: str) -> bool:
    return any(c.hostname == hostname and c.connected for c in relay.slurper.registry.connections())


async def test_add_list_limits_trust_kick_ban_unban(relay: Relay) -> None:
    md = relay.metadata
    async with Network.start(hosts=1, accounts_per_host=1) as net:
        hostname = net.hosts[0].hostname
        added = await relay.admin.AddHost(pb.AddHostRequest(hostname=hostname.upper()), metadata=md)
        assert added.host.hostname == hostname
        assert added.host.status == types_pb2.HOST_STATUS_ACTIVE
        await wait_for(lambda: _connected(relay, hostname), what="connected")

        listed = await relay.admin.ListHosts(pb.ListHostsRequest(), metadata=md)
        assert [(v.host.hostname, v.connected) for v in listed.hosts] == [(hostname, True)]
        assert not listed.errors
        shown = await relay.admin.GetHost(pb.GetHostRequest(hostname=hostname), metadata=md)
        assert shown.host.connected

        limits = types_pb2.HostLimits(account_limit=5, events_per_second=7)
        set_limits = await relay.admin.SetHostLimits(
            pb.SetHostLimitsRequest(hostname=hostname, limits=limits), metadata=md
        )
        assert set_limits.reconnected
        stored = await relay.hosts.get_host(hostname)
        assert (
            stored is not None and stored.limits.account_limit == 5 and stored.limits.events_per_second == 7
        )
        assert stored.status is HostStatus.ACTIVE

        trusted = await relay.admin.SetHostTrusted(
            pb.SetHostTrustedRequest(hostname=hostname, trusted=True), metadata=md
        )
        assert trusted.host.trusted
        stored = await relay.hosts.get_host(hostname)
        assert stored is not None and stored.trusted
        await wait_for(lambda: _connected(relay, hostname), what="reconnected")

        kicked = await relay.admin.KickHost(pb.KickHostRequest(hostname=hostname), metadata=md)
        assert kicked.kicked and not kicked.reconnected
        assert not _connected(relay, hostname)
        again = await relay.admin.KickHost(pb.KickHostRequest(hostname=hostname, reconnect=True), metadata=md)
        assert not again.kicked and again.reconnected
        await wait_for(lambda: _connected(relay, hostname), what="reconnected after kick")

        banned = await relay.admin.BanHost(pb.BanHostRequest(hostname=hostname, reason="spam"), metadata=md)
        assert banned.kicked
        assert banned.host.status == types_pb2.HOST_STATUS_BANNED
        assert not _connected(relay, hostname)
        stored = await relay.hosts.get_host(hostname)
        assert stored is not None and stored.status is HostStatus.BANNED and stored.status_reason == "spam"

        code, details = await _code(relay.admin.AddHost(pb.AddHostRequest(hostname=hostname), metadata=md))
        assert code is grpc.StatusCode.FAILED_PRECONDITION and "banned" in details
        code, details = await _code(
            relay.admin.KickHost(pb.KickHostRequest(hostname=hostname, reconnect=True), metadata=md)
        )
        assert code is grpc.StatusCode.FAILED_PRECONDITION

        unbanned = await relay.admin.UnbanHost(pb.UnbanHostRequest(hostname=hostname), metadata=md)
        assert unbanned.host.status == types_pb2.HOST_STATUS_IDLE
        code, details = await _code(
            relay.admin.UnbanHost(pb.UnbanHostRequest(hostname=hostname), metadata=md)
        )
        assert code is grpc.StatusCode.FAILED_PRECONDITION and "not banned" in details


@pytest.mark.parametrize(
    ("call", "code", "fragment"),
    [
        ("AddHost", grpc.StatusCode.INVALID_ARGUMENT, "bare hostname"),
        ("BanHost", grpc.StatusCode.NOT_FOUND, "unknown host"),
        ("KickHost", grpc.StatusCode.NOT_FOUND, "unknown host"),
        ("GetHost", grpc.StatusCode.NOT_FOUND, "unknown host"),
        ("UnbanHost", grpc.StatusCode.NOT_FOUND, "unknown host"),
        ("SetHostTrusted", grpc.StatusCode.NOT_FOUND, "unknown host"),
    ],
)
async def test_bad_and_unknown_hosts_get_precise_codes(
    relay: Relay, call: str, code: grpc.StatusCode, fragment: str
) -> None:
    name = "https://x.example/path" if code is grpc.StatusCode.INVALID_ARGUMENT else "never-seen.example.com"
    request = getattr(pb, f"{call}Request")(hostname=name)
    got, details = await _code(getattr(relay.admin, call)(request, metadata=relay.metadata))
    assert got is code
    assert fragment in details


async def test_negative_limits_and_malformed_input_are_invalid(relay: Relay) -> None:
    md = relay.metadata
    bad_limits = pb.SetHostLimitsRequest(
        hostname="pds.example.com", limits=types_pb2.HostLimits(events_per_day=-1)
    )
    code, details = await _code(relay.admin.SetHostLimits(bad_limits, metadata=md))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "events_per_day must be >= 0" in details
    code, _ = await _code(
        relay.admin.SetHostLimits(pb.SetHostLimitsRequest(hostname="pds.example.com"), metadata=md)
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    code, _ = await _code(relay.admin.ListHosts(pb.ListHostsRequest(limit=-1), metadata=md))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    code, _ = await _code(relay.admin.AddDomainBan(pb.AddDomainBanRequest(domain="bad domain"), metadata=md))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    negative = pb.SetCrawlPolicyRequest(policy=types_pb2.CrawlPolicy(new_hosts_per_day=-1))
    code, _ = await _code(relay.admin.SetCrawlPolicy(negative, metadata=md))
    assert code is grpc.StatusCode.INVALID_ARGUMENT


async def test_domain_ban_disconnects_hosts_under_it_and_lifting_it_restores_them(relay: Relay) -> None:
    md = relay.metadata
    async with Network.start(hosts=2, accounts_per_host=1) as net:
        names = sorted(h.hostname for h in net.hosts)
        for name in names:
            await relay.admin.AddHost(pb.AddHostRequest(hostname=name), metadata=md)
        await wait_for(lambda: all(_connected(relay, n) for n in names), what="both connected")

        added = await relay.admin.AddDomainBan(
            pb.AddDomainBanRequest(domain="LOCALHOST", reason="test"), metadata=md
        )
        assert added.ban.domain == "localhost"
        assert list(added.banned_hosts) == names
        assert not any(_connected(relay, n) for n in names)
        for name in names:
            stored = await relay.hosts.get_host(name)
            assert stored is not None and stored.status is HostStatus.BANNED
        bans = await relay.admin.ListDomainBans(pb.ListDomainBansRequest(), metadata=md)
        assert [(b.domain, b.reason) for b in bans.bans] == [("localhost", "test")]
        code, _ = await _code(relay.admin.AddHost(pb.AddHostRequest(hostname=names[0]), metadata=md))
        assert code is grpc.StatusCode.FAILED_PRECONDITION
        code, details = await _code(
            relay.admin.UnbanHost(pb.UnbanHostRequest(hostname=names[0]), metadata=md)
        )
        assert code is grpc.StatusCode.FAILED_PRECONDITION and "banned domain localhost" in details

        removed = await relay.admin.RemoveDomainBan(
            pb.RemoveDomainBanRequest(domain="localhost"), metadata=md
        )
        assert removed.removed and list(removed.unbanned_hosts) == names
        for name in names:
            stored = await relay.hosts.get_host(name)
            assert stored is not None and stored.status is HostStatus.IDLE
        again = await relay.admin.RemoveDomainBan(pb.RemoveDomainBanRequest(domain="localhost"), metadata=md)
        assert not again.removed
        await relay.admin.AddHost(pb.AddHostRequest(hostname=names[0]), metadata=md)
        await wait_for(lambda: _connected(relay, names[0]), what="followed again")


async def test_crawl_policy_is_applied_and_persisted_by_its_owner(relay: Relay) -> None:
    md = relay.metadata
    policy = types_pb2.CrawlPolicy(public_request_crawl=False, new_hosts_per_day=3)
    set_reply = await relay.admin.SetCrawlPolicy(pb.SetCrawlPolicyRequest(policy=policy), metadata=md)
    assert set_reply.policy == policy
    got = await relay.admin.GetCrawlPolicy(pb.GetCrawlPolicyRequest(), metadata=md)
    assert got.policy == policy
    assert relay.slurper.admission.policy.new_hosts_per_day == 3
    # Read back from Postgres through the indexer, as a restarted slurper would load it.
    stored = await relay.slurper.store.get_crawl_policy()
    assert stored is not None and stored.new_hosts_per_day == 3 and not stored.public_request_crawl
