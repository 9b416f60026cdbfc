"""The listHosts bootstrap against a real upstream relay endpoint on loopback (paged listHosts)."""

from __future__ import annotations

import logging
import time

import pytest
from relay_indexer.host import HostStatus, HostUpsert

from tests.integration.slurper.conftest import wait_for
from tests.integration.slurper.upstream_relay import (
    ListedHost,
    counting_pds,
    running_upstream_relay,
    tarpit,
)
from tools.netsim.network import Network

pytestmark = pytest.mark.integration


async def test_upstream_hosts_are_admitted_concurrently_refused_by_reason_and_repolls_are_cheap(
    run_slurper, indexer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay_slurper.upstream_hosts")
    async with (
        Network.start(hosts=7, accounts_per_host=0) as net,
        counting_pds() as pds,
        tarpit() as hanging,
    ):
        *fresh, kicked = [h.hostname for h in net.hosts]
        await indexer.hosts.upsert_host(
            HostUpsert(hostname=kicked, status=HostStatus.IDLE, status_reason="kicked by an operator")
        )
        await indexer.policy.add_domain_ban("spam.test", "spam")
        listed = [
            ListedHost(hanging),  # first: a sequential bootstrap would wait on it
            *(ListedHost(h, seq=i, account_count=10) for i, h in enumerate(fresh)),
            ListedHost(pds.hostname),
            ListedHost(kicked),  # known (idle): left alone, not probed, not re-activated
            ListedHost("pds.banned-upstream.test", status="banned"),
            ListedHost("localhost:2", status="offline"),
            ListedHost("127.0.0.1"),  # an IP literal
            ListedHost("localhost:1"),  # nothing listens there
            ListedHost("pds.spam.test"),  # under a domain ban
            ListedHost(fresh[0].upper()),  # listed twice (other spelling): admitted once
        ]
        async with running_upstream_relay(listed, max_page=4) as relay:
            started = time.monotonic()
            slurper = await run_slurper(upstream_relay=relay.url, probe_timeout_seconds=1.0)
            upstream = slurper.upstream
            assert upstream is not None
            await wait_for(lambda: upstream.last_summary is not None, within_seconds=10, what="first poll")
            reachable = {*fresh, pds.hostname}
            await wait_for(
                lambda: {c.hostname for c in slurper.registry.connections() if c.connected} == reachable,
                within_seconds=10,
                what="every reachable host connected",
            )
            assert time.monotonic() - started < 8  # the 1 s tarpit probe overlapped the others

            first = upstream.last_summary
            assert first is not None and not first.error
            assert (first.listed, first.admitted, first.already_known, first.failed) == (15, 7, 2, 0)
            assert first.skipped == {"banned": 1, "offline": 1}
            assert first.refused == {
                "probe_timeout": 1,
                "bad_hostname": 1,
                "probe_failed": 1,
                "domain_banned": 1,
            }
            assert [r.get("cursor") for r in relay.requests] == [None, "4", "8", "12"]
            assert all(r["limit"] == "1000" for r in relay.requests)
            assert pds.probes == 1 and pds.subscribers == 1

            kicked_stored = await indexer.hosts.get_host(kicked)
            assert kicked_stored is not None and kicked_stored.status is HostStatus.IDLE
            assert not slurper.registry.is_following(kicked)
            for host in reachable:
                stored = await indexer.hosts.get_host(host)
                assert stored is not None and stored.status is HostStatus.ACTIVE
            for refused in ("127.0.0.1", "localhost:1", "pds.spam.test", "pds.banned-upstream.test", hanging):
                assert await indexer.hosts.get_host(refused) is None

            polled = [r for r in caplog.records if r.getMessage() == "upstream hosts polled"]
            assert polled and getattr(polled[0], "admitted", None) == 7
            assert getattr(polled[0], "refused", None) == dict(first.refused)

            again = await upstream.poll_once()
            assert (again.admitted, again.already_known, again.failed) == (0, 9, 0)
            assert again.refused == first.refused  # unknown hosts are tried again, known ones never
            assert pds.probes == 1  # no re-probe of a followed host
            assert {c.hostname for c in slurper.registry.connections() if c.connected} == reachable
