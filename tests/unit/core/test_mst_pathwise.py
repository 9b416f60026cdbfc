"""The one-pass inversion (`mst.pathwise`) against the general engine: wherever it answers, it
must give exactly the general path's root, and it must not answer where the general path
raises. It should also answer for nearly every well-formed commit, or it is not worth having."""

from __future__ import annotations

import random

import libipld
from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import Mst, MstOp, invert_ops_raw
from relay_core.mst.inversion import _invert_general
from relay_core.mst.keys import key_height
from relay_core.mst.node import decode_node_raw
from relay_core.mst.pathwise import invert_pathwise

Blocks = dict[bytes, bytes]


def _cid(i: int) -> Cid:
    return Cid.for_raw(i.to_bytes(4, "big"))


def _general(root: bytes, blocks: Blocks, ops: list[MstOp]) -> bytes | None:
    try:
        return _invert_general(root, blocks, ops)
    except InvalidMst:
        return None


def _agree(root: bytes, blocks: Blocks, ops: list[MstOp]) -> tuple[bool, bool]:
    """Assert the fast path's answer is the general one, or that it gave none; return whether
    it answered and whether the general path accepted."""
    fast = invert_pathwise(root, blocks, ops)
    general = _general(root, blocks, ops)
    if fast is not None:
        assert fast == general
    return fast is not None, general is not None


def _random_commit(rng: random.Random, n_keys: int) -> tuple[Mst, Mst, list[MstOp]]:
    """A tree and a commit on it: creates, updates and deletes, keys of every height."""
    keys = {f"app.bsky.feed.post/{rng.getrandbits(48):012x}" for _ in range(n_keys)}
    old_items = {k: _cid(rng.randrange(10**6)) for k in sorted(keys)}
    old = Mst.from_items(old_items.items())
    new = old
    ops: list[MstOp] = []
    used: set[str] = set()
    for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 10])):
        kind = rng.choice(["create", "create", "update", "delete"])
        if kind == "create" or not old_items:
            key = f"app.bsky.feed.like/{rng.getrandbits(48):012x}"
            if rng.random() < 0.4:  # favour keys above layer 0: their undo merges subtrees
                key = next(
                    k
                    for k in (f"app.bsky.feed.like/{rng.getrandbits(48):012x}" for _ in range(10_000))
                    if key_height(k) >= 1
                )
            if key in used:
                continue
            cid = _cid(rng.randrange(10**6) + 10**6)
            new = new.set(key, cid)
            ops.append(MstOp(key, cid, None))
        else:
            choices = sorted(k for k in old_items if k not in used)
            if not choices:
                continue
            high = [k for k in choices if key_height(k) >= 1]
            key = rng.choice(high if high and rng.random() < 0.4 else choices)
            if kind == "update":
                cid = _cid(rng.randrange(10**6) + 2 * 10**6)
                new = new.set(key, cid)
                ops.append(MstOp(key, cid, old_items[key]))
            else:
                new = new.delete(key)
                ops.append(MstOp(key, None, old_items[key]))
        used.add(key)
    return old, new, ops


def test_pathwise_matches_the_general_path_on_random_commits() -> None:
    rng = random.Random(20261123)
    answered = total = 0
    for _ in range(400):
        old, new, ops = _random_commit(rng, rng.choice([0, 1, 2, 5, 20, 60, 300]))
        if not ops:
            continue
        proof = {c.raw: b for c, b in new.proof_blocks(op.path for op in ops).items()}
        root = new.root.raw
        assert _agree(root, proof, ops) == (True, True)
        answered += 1
        total += 1
        assert invert_ops_raw(root, proof, ops) == old.root.raw
    assert answered == total


def _variants(rng: random.Random, proof: Blocks, ops: list[MstOp]) -> list[tuple[Blocks, list[MstOp]]]:
    out: list[tuple[Blocks, list[MstOp]]] = []
    for dropped in proof:
        out.append(({c: b for c, b in proof.items() if c != dropped}, ops))
    for n, op in enumerate(ops):

        def swap(new_op: MstOp, n: int = n) -> list[MstOp]:
            return [*ops[:n], new_op, *ops[n + 1 :]]

        out += [
            (proof, swap(MstOp(op.path, _cid(7), op.prev))),
            (proof, swap(MstOp(op.path, op.cid, op.cid))),
            (proof, swap(MstOp(op.path, op.cid, None))),
            (proof, swap(MstOp(op.path, None, None))),
            (proof, swap(MstOp(op.path, None, op.prev or _cid(9)))),
            (proof, swap(MstOp("app.bsky.feed.post/zzzz", _cid(8), None))),
        ]
    out += [(proof, [*ops, ops[0]]), (proof, list(reversed(ops)))]
    # Node blocks changed in place (the inversion trusts the map's keys; the CAR reader is what
    # hash-checks them): random byte flips, and prefixes written short (not canonical).
    for cid, data in proof.items():
        for _ in range(6):
            i = rng.randrange(len(data))
            flipped = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
            out.append(({**proof, cid: flipped}, ops))
        try:
            node = decode_node_raw(data)
        except InvalidMst:
            continue
        if len(node.keys) > 1:
            entries = [
                {"k": key, "p": 0, "t": gap, "v": val}
                for key, val, gap in zip(node.keys, node.vals, node.gaps[1:], strict=True)
            ]
            short = libipld.encode_dag_cbor({"e": entries, "l": node.gaps[0]})
            out.append(({**proof, cid: short}, ops))
    return out


def test_pathwise_never_answers_where_the_general_path_fails() -> None:
    rng = random.Random(99)
    outcomes: dict[tuple[bool, bool], int] = {}
    for _ in range(60):
        _, new, ops = _random_commit(rng, rng.choice([2, 20, 120]))
        if not ops:
            continue
        proof = {c.raw: b for c, b in new.proof_blocks(op.path for op in ops).items()}
        for blocks, variant in _variants(rng, proof, ops):
            outcome = _agree(new.root.raw, blocks, variant)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # Both sides are exercised: many variants fail, many still invert (a flipped CID byte, a
    # dropped block nothing needed, a non-canonical node that is re-encoded). The fast path
    # answers exactly when the general path accepts, so no good commit pays for both.
    assert outcomes.get((False, False), 0) > 500
    assert outcomes.get((True, True), 0) > 300
    assert set(outcomes) == {(False, False), (True, True)}


def test_pathwise_handles_entry_less_nodes_and_new_leaves() -> None:
    """Creates alone in a new leaf, and deletes that empty one: both have to prune or rebuild
    nodes, which the fast path does itself."""
    rng = random.Random(5)
    answered = 0
    for n in range(200):
        old, new, ops = _random_commit(rng, 40)
        if not ops:
            continue
        proof = {c.raw: b for c, b in new.proof_blocks(op.path for op in ops).items()}
        assert invert_ops_raw(new.root.raw, proof, ops) == old.root.raw
        answered += _agree(new.root.raw, proof, ops)[0]
        # The same commit seen backwards (each op reversed) goes from `new` back to `old`.
        back = [MstOp(op.path, op.prev, op.cid) for op in ops]
        proof_back = {c.raw: b for c, b in old.proof_blocks(op.path for op in ops).items()}
        assert invert_ops_raw(old.root.raw, proof_back, back) == new.root.raw
        answered += _agree(old.root.raw, proof_back, back)[0]
        del n
    assert answered > 300
