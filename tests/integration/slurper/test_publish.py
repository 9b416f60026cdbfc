"""Frames from several simulated PDS hosts land in RAW_FRAMES exactly once, in per-host order."""

from __future__ import annotations

from collections import defaultdict

import pytest
from relay_proto.events.v1 import events_pb2
from relay_runtime.streams import partition_for_host, raw_subject
from relay_slurper.admission import AdmissionSource
from relay_slurper.host_store import HostStatus

from tests.integration.slurper.conftest import read_raw_frames, wait_for
from tools.netsim.network import Network

pytestmark = pytest.mark.integration


def _by_host(frames: list[events_pb2.RawFrame]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for frame in frames:
        out[frame.host].append(frame.upstream_seq)
    return out


async def test_every_frame_published_once_in_host_order_across_a_reconnect(
    run_slurper, raw_stream, indexer
) -> None:
    async with Network.start(hosts=3, accounts_per_host=3) as net:
        slurper = await run_slurper()
        for host in net.hosts:
            assert await slurper.admission.admit(host.hostname, AdmissionSource.OPERATOR)
        await wait_for(lambda: all(c.connected for c in slurper.registry.connections()), what="connections")
        net.create_all()
        for did in net.dids:
            net.commit(did)
        first_batch = len(net.ledger)
        await wait_for(lambda: slurper.publisher.in_flight == 0 and _acked(slurper, net), what="acks")

        # Kick one host mid-stream and add it back: it resumes from its acked cursor.
        kicked = net.hosts[0].hostname
        assert await slurper.registry.kick(kicked)
        stored = await indexer.hosts.get_host(kicked)
        assert stored is not None and stored.status.value == HostStatus.IDLE.value
        for did in net.dids:
            net.commit(did)
        assert await slurper.admission.admit(kicked, AdmissionSource.OPERATOR)
        for did in net.dids:
            net.commit(did)
        frames = await read_raw_frames(raw_stream, expected=len(net.ledger))

        assert len(net.ledger) > first_batch
        expected: dict[str, list[int]] = defaultdict(list)
        for entry in net.ledger:
            expected[entry.host].append(entry.seq)
        got = _by_host(frames)
        assert {h: got.get(h) for h in expected} == dict(expected), {
            h: (len(got.get(h, [])), len(v)) for h, v in expected.items()
        }  # exactly once, in order, per host
        sent = {(e.host, e.seq): e for e in net.ledger}
        for frame in frames:
            assert frame.received_at_us > 0
            assert frame.frame[:1]  # raw bytes, untouched
        # Each host's frames went to its partition's subject.
        info = await raw_stream.stream_info("RAW_FRAMES", subjects_filter=">")
        subjects = set((info.state.subjects or {}).keys())
        assert subjects == {
            raw_subject(partition_for_host(h, slurper.config.raw_partitions)) for h in expected
        }
        assert len(sent) == len(frames)

        await wait_for(lambda: _cursors_persisted(indexer, net), what="persisted cursors")


def _acked(slurper, net: Network) -> bool:
    heads = {h.hostname: h.seq for h in net.hosts}
    return all(s.acked_cursor == heads[s.hostname] for s in slurper.registry._subscriptions.values())


async def _cursors_persisted(indexer, net: Network) -> bool:
    for host in net.hosts:
        stored = await indexer.hosts.get_host(host.hostname)
        if stored is None or stored.cursor != host.seq:
            return False
    return True
