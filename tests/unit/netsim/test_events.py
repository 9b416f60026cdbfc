"""Simulated repos and hosts produce frames that verify, and broken ones that fail for the stated
reason. Pure: frames come straight from `SimHost.sequence`, judged with relay_core."""

from __future__ import annotations

import random
import time

import pytest
from relay_core.firehose.events import CommitEvent, parse_event
from relay_core.firehose.frames import decode_frame
from relay_core.keys import PublicKey, parse_did_key
from relay_core.syntax.did import parse_did

from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.group import DirectoryUpdater, HostGroup
from tools.netsim.host import SimHost
from tools.netsim.judge import OK, Judge
from tools.netsim.plc_directory import PlcDirectory, signing_key_for
from tools.netsim.repo import PreparedEvent, RevClock, Signer, SimRepo


class _Setup:
    def __init__(self, accounts: int = 3) -> None:
        self.directory = PlcDirectory("unit", ["http://localhost:1"])
        self.dids = self.directory.add_accounts(accounts)
        self.host = SimHost(0, 1)
        self.frames: list[bytes] = []
        self.host.sinks.append(self.frames.append)
        for index, did in enumerate(self.dids):
            key = signing_key_for("unit", index)
            self.host.add_repo(
                SimRepo(
                    index=index,
                    did=parse_did(did),
                    handle=f"u{index}.pds0.test",
                    signer=Signer(key.to_bytes()),
                    signing_key=key.public_key.did_key(),
                )  # fmt: skip
            )
        self.clock = RevClock()
        self.judge = Judge(self._key, lambda: time.time_ns() // 1000)

    def _key(self, did: str) -> PublicKey:
        return parse_did_key(self.directory.account_info(self.dids.index(did))["signing_key"])

    def send_and_judge(self, event: PreparedEvent) -> str:
        _, frame = self.host.sequence(event)
        return self.judge.judge(self.host.hostname, frame)


def test_creation_sequence_matches_a_pds_and_verifies() -> None:
    s = _Setup()
    repo = s.host.repos[s.dids[0]]
    events = repo.genesis(s.clock)
    assert [e.type for e in events] == ["#identity", "#account", "#commit", "#sync"]
    assert [s.send_and_judge(e) for e in events] == [OK] * 4
    commit = parse_event(decode_frame(s.frames[2]))
    assert isinstance(commit, CommitEvent)
    assert commit.since is None and commit.prev_data is None and commit.ops == ()
    assert [parse_event(decode_frame(f)).seq for f in s.frames] == [1, 2, 3, 4]  # type: ignore[union-attr]


def test_long_chain_of_good_commits_verifies_and_chains() -> None:
    s = _Setup()
    repo = s.host.repos[s.dids[1]]
    for e in repo.genesis(s.clock):
        assert s.send_and_judge(e) == OK
    rng = random.Random(5)
    actions = set()
    for _ in range(150):
        event = repo.mutate(rng, s.clock, max_records=10)
        actions.add(event.body["ops"][0]["action"])
        assert s.send_and_judge(event) == OK
    assert actions == {"create", "update", "delete"}
    assert len(repo.records) <= 10
    assert dict(repo.tree.items()) == repo.records


@pytest.mark.parametrize("kind", list(BrokenKind))
def test_broken_kind_fails_for_its_reason_and_does_not_break_the_chain(kind: BrokenKind) -> None:
    s = _Setup()
    repo = s.host.repos[s.dids[2]]
    for e in repo.genesis(s.clock):
        s.send_and_judge(e)
    rng = random.Random(1)
    assert s.send_and_judge(repo.mutate(rng, s.clock)) == OK
    if kind is BrokenKind.BAD_HANDLE:
        broken = repo.broken_identity()
    elif kind is BrokenKind.BAD_ACCOUNT_STATUS:
        broken = repo.broken_account()
    else:
        wrong = Signer(b"\x07" * 32)
        broken = repo.mutate(rng, s.clock, broken=kind, wrong_signer=wrong)
    assert broken.broken is kind
    assert s.send_and_judge(broken) == EXPECTED_REASON[kind]
    # The next good commit chains from the last good one.
    assert s.send_and_judge(repo.mutate(rng, s.clock)) == OK


def test_seq_not_increasing_repeats_previous_seq() -> None:
    s = _Setup()
    repo = s.host.repos[s.dids[0]]
    for e in repo.genesis(s.clock):
        s.host.sequence(e)
    entry, _ = s.host.sequence(repo.mutate(random.Random(2), s.clock, broken=BrokenKind.SEQ_NOT_INCREASING))
    assert entry.seq == 4
    assert s.host.seq == 4


def test_list_repos_pages_by_did_and_describe_repo() -> None:
    s = _Setup(accounts=5)
    for did in s.dids[:4]:
        for e in s.host.repos[did].genesis(s.clock):
            s.host.sequence(e)
    status, page1 = s.host.list_repos({"limit": "3"})
    assert status == 200 and len(page1["repos"]) == 3
    _, page2 = s.host.list_repos({"limit": "3", "cursor": page1["cursor"]})
    assert "cursor" not in page2
    listed = [r["did"] for r in page1["repos"] + page2["repos"]]
    assert listed == sorted(s.dids[:4])
    assert s.host.list_repos({"limit": "0"})[0] == 400
    did = s.dids[0]
    s.host.sequence(s.host.repos[did].mutate(random.Random(3), s.clock))
    status, described = s.host.describe_repo({"repo": did})
    assert status == 200
    assert described["collections"] == s.host.repos[did].collections and len(described["collections"]) == 1
    assert s.host.describe_repo({"repo": s.dids[4]})[0] == 400


def test_bad_cid_writes_a_record_even_where_a_good_commit_would_delete() -> None:
    s = _Setup()
    repo = s.host.repos[s.dids[0]]
    for e in repo.genesis(s.clock):
        s.send_and_judge(e)
    rng = random.Random(4)
    while len(repo.records) < 2:
        assert s.send_and_judge(repo.mutate(rng, s.clock, max_records=2)) == OK
    # The repo is full, so good commits delete; a delete has no record block to corrupt.
    for _ in range(20):
        broken = repo.mutate(rng, s.clock, max_records=2, broken=BrokenKind.BAD_CID)
        assert broken.body["ops"][0]["action"] == "update"
        assert s.send_and_judge(broken) == EXPECTED_REASON[BrokenKind.BAD_CID]
    assert s.send_and_judge(repo.mutate(rng, s.clock, max_records=2)) == OK


async def test_a_key_rotation_replaces_the_signer_and_later_commits_use_it() -> None:
    directory = PlcDirectory("unit", ["http://localhost:1"])
    dids = directory.add_accounts(2)
    group = HostGroup([0], 1, seed="unit", backlog_frames=50)
    group.add_accounts(dids)
    frames: list[bytes] = []
    group.hosts[0].sinks.append(frames.append)
    judge = Judge(
        lambda did: parse_did_key(directory.account_info(dids.index(did))["signing_key"]),
        lambda: time.time_ns() // 1000,
    )
    did = dids[1]
    group.create_account(did)
    group.commit(did)
    old_key = group.repos[did].signing_key
    await group.rotate_key(did, DirectoryUpdater(directory))
    group.commit(did)
    repo = group.repos[did]
    assert repo.rotations == 1 and repo.signing_key != old_key
    assert repo.signing_key == directory.account_info(1)["signing_key"]
    # Judged after the rotation: only the commits since then verify with the served key.
    verdicts = [judge.judge(group.hosts[0].hostname, frame) for frame in frames]
    assert verdicts[-2:] == [OK, OK] and verdicts[4] == "signature_mismatch"
    with pytest.raises(ValueError, match="not the signer's key"):
        repo.signing_key = old_key
