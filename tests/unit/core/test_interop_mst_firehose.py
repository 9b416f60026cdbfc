"""MST interop vectors: key heights, common prefix, commit-proof fixtures, real indigo commits.

Walks /work/shared/interop (override with RELAY_SHARED_DIR). The indigo bridgy commits have no
expected result upstream; the tests pin what our inversion observably does (see
docs/interop-findings.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from relay_core.atproto_json import from_atproto_json
from relay_core.car import read_car
from relay_core.cid import Cid, parse_cid_string
from relay_core.commit import parse_commit
from relay_core.errors import InvalidMst
from relay_core.mst import (
    Mst,
    MstOp,
    common_prefix_len,
    decode_node,
    invert_ops,
    key_height,
    lookup,
    proof_cids,
)

SHARED = Path(os.environ.get("RELAY_SHARED_DIR", Path(__file__).resolve().parents[4] / "shared"))
INTEROP = SHARED / "interop"
INDIGO_REPO = INTEROP / "indigo-testdata" / "atproto" / "repo" / "testdata"
CAR_LIMITS = {"max_bytes": 5_000_000, "max_blocks": 10_000}


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "vector", _json(INTEROP / "mst" / "key_heights.json"), ids=lambda v: v["key"] or "<empty>"
)
def test_key_heights(vector: dict[str, Any]) -> None:
    assert key_height(vector["key"]) == vector["height"]


@pytest.mark.parametrize("vector", _json(INTEROP / "mst" / "common_prefix.json"), ids=repr)
def test_common_prefix(vector: dict[str, Any]) -> None:
    assert common_prefix_len(vector["left"], vector["right"]) == vector["len"]
    assert common_prefix_len(vector["left"].encode(), vector["right"].encode()) == vector["len"]


def test_example_keys_heights() -> None:
    keys = [
        ln
        for ln in (INTEROP / "mst" / "example_keys.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert len(keys) == 156
    for key in keys:
        # The digit after the leading letter *is* the key's height, by construction.
        assert key_height(key) == int(key[1]), key


PROOF_FIXTURES = _json(INTEROP / "firehose" / "commit-proof-fixtures.json")


@pytest.mark.parametrize("fx", PROOF_FIXTURES, ids=lambda f: f["comment"])
def test_commit_proof_fixture(fx: dict[str, Any]) -> None:
    leaf = parse_cid_string(fx["leafValue"])
    before = Mst.from_items((k, leaf) for k in fx["keys"])
    assert str(before.root) == fx["rootBeforeCommit"]

    after = before
    ops: list[MstOp] = []
    for key in fx["adds"]:
        after = after.set(key, leaf)
        ops.append(MstOp(path=key, cid=leaf, prev=None))
    for key in fx["dels"]:
        after = after.delete(key)
        ops.append(MstOp(path=key, cid=None, prev=leaf))
    assert str(after.root) == fx["rootAfterCommit"]

    # Insertion order does not matter: rebuilding from scratch gives the same root.
    final_keys = (set(fx["keys"]) | set(fx["adds"])) - set(fx["dels"])
    assert str(Mst.from_items((k, leaf) for k in final_keys).root) == fx["rootAfterCommit"]

    expected = {parse_cid_string(c) for c in fx["blocksInProof"]}
    paths = [op.path for op in ops]
    assert set(after.proof_blocks(paths)) == expected
    assert proof_cids(after.root, after.node_blocks(), paths) == expected

    # Inversion from exactly the proof blocks reproduces the previous root.
    proof = after.blocks_for(expected)
    assert str(invert_ops(after.root, proof, ops)) == fx["rootBeforeCommit"]


@pytest.mark.parametrize("fx", PROOF_FIXTURES, ids=lambda f: f["comment"])
def test_commit_proof_fixture_missing_node_is_incomplete(fx: dict[str, Any]) -> None:
    """Dropping any proof node other than the root either still inverts correctly (our undo needs
    fewer nodes than the proof carries) or fails as mst_incomplete, never with a wrong root."""
    leaf = parse_cid_string(fx["leafValue"])
    after = Mst.from_items((k, leaf) for k in (set(fx["keys"]) | set(fx["adds"])) - set(fx["dels"]))
    ops = [MstOp(k, leaf, None) for k in fx["adds"]] + [MstOp(k, None, leaf) for k in fx["dels"]]
    proof = after.blocks_for({parse_cid_string(c) for c in fx["blocksInProof"]})
    for dropped in proof:
        if dropped == after.root:
            continue
        partial = {c: b for c, b in proof.items() if c != dropped}
        try:
            result = invert_ops(after.root, partial, ops)
        except InvalidMst as exc:
            assert exc.reason == "mst_incomplete"
        else:
            assert str(result) == fx["rootBeforeCommit"]


def _indigo_commit(name: str) -> tuple[dict[str, Any], dict[Cid, bytes], list[MstOp]]:
    body = from_atproto_json(_json(INDIGO_REPO / name))
    car = read_car(body["blocks"], **CAR_LIMITS)
    ops = [MstOp(path=o["path"], cid=o.get("cid"), prev=o.get("prev")) for o in body["ops"]]
    return body, car.blocks, ops


def test_indigo_4623075231_no_prev_data() -> None:
    body, blocks, ops = _indigo_commit("firehose_commit_4623075231.json")
    assert "prevData" not in body
    commit = parse_commit(blocks[body["commit"]])
    assert len(ops) == 1 and ops[0].prev is None
    # The new tree's op lookups succeed on the partial tree.
    assert lookup(commit.data, blocks, ops[0].path) == ops[0].cid
    # The root's only entry is the created key; its right subtree is not carried. Undoing the
    # create leaves that subtree's CID as the previous root (the "can not prune top" case).
    root = decode_node(blocks[commit.data])
    assert root.keys() == [ops[0].path] and root.left is None and root.entries[0].right not in blocks
    previous = invert_ops(commit.data, blocks, ops)
    assert previous == root.entries[0].right
    assert str(previous) == "bafyreicfeeojgjj7gtgl6go25tk5jmcuoytjp5hhulbdd7gwzk7gtqw3ka"


# Observed outcomes (no upstream expectation; none of these carries prevData or op prevs).
BRIDGY = {
    "firehose_commit_4621317030.json": ("error", "mst_incomplete"),
    "firehose_commit_4621317332.json": ("error", "mst_incomplete"),
    "firehose_commit_4621332152.json": ("ok", "bafyreid4lxi7jmskjiigk6lfsmm55qmyy5zepfqlus5csbo37i4uc7drs4"),
}


@pytest.mark.parametrize("name", sorted(BRIDGY))
def test_indigo_bridgy_observed(name: str) -> None:
    body, blocks, ops = _indigo_commit(name)
    commit = parse_commit(blocks[body["commit"]])
    for op in ops:
        if op.cid is not None:
            assert lookup(commit.data, blocks, op.path) == op.cid
    outcome, detail = BRIDGY[name]
    try:
        previous = invert_ops(commit.data, blocks, ops)
    except InvalidMst as exc:
        assert (outcome, detail) == ("error", exc.reason)
    else:
        assert (outcome, detail) == ("ok", str(previous))
    assert "prevData" not in body


def test_greenground_repo_rebuild() -> None:
    car = read_car(
        (INTEROP / "indigo-testdata" / "testing" / "testdata" / "greenground.repo.car").read_bytes(),
        **CAR_LIMITS,
    )
    commit = parse_commit(car.blocks[car.roots[0]])
    loaded = Mst.load(commit.data, car.blocks)
    items = list(loaded.items())
    assert items, "repo has records"
    assert Mst.from_items(items).root == commit.data
    assert loaded.root == commit.data
