"""A workload made ahead (`Workload.prepare`) sends what a live one with the same seed sends: the
same ledger, frames that verify with the key the PLC directory serves when each goes out, and
`time` stamped at send time."""

from __future__ import annotations

import functools
import time
from datetime import datetime

from relay_core.firehose.frames import decode_frame
from relay_core.keys import PublicKey, parse_did_key

from tools.netsim.group import DirectoryUpdater, HostGroup
from tools.netsim.judge import OK, Judge
from tools.netsim.ledger import LedgerEntry
from tools.netsim.plc_directory import PlcDirectory
from tools.netsim.workload import Workload

_HOSTS = 3
_FRAMES = 600


class _Sim:
    """A host group (no sockets) whose frames are judged the moment they are sent."""

    def __init__(self) -> None:
        self.directory = PlcDirectory("prep", [f"http://localhost:{i + 1}" for i in range(_HOSTS)])
        self.dids = self.directory.add_accounts(_HOSTS * 4)
        self.group = HostGroup(range(_HOSTS), _HOSTS, seed="prep", backlog_frames=50)
        self.group.add_accounts(self.dids)
        self.judge = Judge(self._key, lambda: time.time_ns() // 1000)
        self.verdicts: list[str] = []
        self.frames: list[bytes] = []
        for host in self.group.hosts.values():
            host.port = host.index + 1  # no listener: a distinct name per host for the judge
            host.sinks.append(functools.partial(self._sent, host.hostname))
        # Key rotations and handle changes often enough to be in every run.
        self.workload = Workload(self.group, DirectoryUpdater(self.directory), rate=1e6, seed="w")

    def _key(self, did: str) -> PublicKey:
        return parse_did_key(self.directory.account_info(self.dids.index(did))["signing_key"])

    def _sent(self, host: str, frame: bytes) -> None:
        self.frames.append(frame)
        self.verdicts.append(self.judge.judge(host, frame))


def _shape(entries: list[LedgerEntry]) -> list[tuple[str, int, str, str, str]]:
    """A ledger without revs (TIDs come from the wall clock)."""
    return [(e.host, e.seq, e.did, e.type, e.expect) for e in entries]


async def test_prepared_frames_match_a_live_run_and_verify_when_sent() -> None:
    live = _Sim()
    sent = 0
    while sent < _FRAMES:
        sent += await live.workload.step()
    prepared = _Sim()
    prepared.workload.prepare(_FRAMES)
    made = prepared.workload.prepared
    assert made == sent
    assert prepared.group.ledger == [] and prepared.frames == []
    before = datetime.now().astimezone()
    result = await prepared.workload.run(0.3)
    assert result.events >= made and prepared.workload.prepared == 0
    assert _shape(prepared.group.ledger[:made]) == _shape(live.group.ledger)
    kinds = {e.type for e in live.group.ledger}
    assert {"#identity", "#account", "#commit", "#sync"} <= kinds
    assert sum(1 for e in live.group.ledger if e.type == "#identity") > len(live.dids)  # changes too
    assert prepared.verdicts == [OK] * len(prepared.verdicts)
    stamps = [decode_frame(f).body["time"] for f in prepared.frames[:made]]
    first_sent = datetime.fromisoformat(stamps[0].replace("Z", "+00:00"))
    assert first_sent >= before.replace(microsecond=before.microsecond // 1000 * 1000)
    assert stamps == sorted(stamps)


async def test_identity_changes_reach_the_directory_when_sent() -> None:
    sim = _Sim()
    keys_before = [sim.directory.account_info(i)["signing_key"] for i in range(len(sim.dids))]
    handles_before = [sim.directory.account_info(i)["handle"] for i in range(len(sim.dids))]
    sim.workload.prepare(_FRAMES)
    rotated = [i for i, did in enumerate(sim.dids) if sim.group.repos[did].rotations]
    assert rotated, "the seed should rotate some key within the prepared frames"
    assert [sim.directory.account_info(i)["signing_key"] for i in range(len(sim.dids))] == keys_before
    assert [sim.directory.account_info(i)["handle"] for i in range(len(sim.dids))] == handles_before
    await sim.workload.run(0.3)
    for i in rotated:
        assert sim.directory.account_info(i)["signing_key"] == sim.group.repos[sim.dids[i]].signing_key


async def test_create_all_sends_every_creation_sequence_first_and_paced() -> None:
    sim = _Sim()
    sim.workload.rate = 400.0
    started = time.monotonic()
    sent = await sim.workload.create_all()
    elapsed = time.monotonic() - started
    accounts = len(sim.dids)
    assert sent == len(sim.group.ledger) == len(sim.frames)
    assert {e.did for e in sim.group.ledger} == set(sim.dids)
    assert all(repo.created for repo in sim.group.repos.values())
    assert sent >= 3 * accounts and elapsed >= (sent - 1) / sim.workload.rate * 0.9
    assert sim.verdicts == [OK] * sent
    # What comes next holds no creation sequence: every account exists already.
    sim.workload.prepare(200)
    await sim.workload.run(0.05)
    later = sim.group.ledger[sent:]
    assert later and all(e.type != "#sync" for e in later)
    assert await sim.workload.create_all() == 0
