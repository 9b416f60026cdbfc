"""MST unit tests: node codec strictness, persistent updates, diff, inversion errors."""

from __future__ import annotations

import random

import libipld
import pytest
from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import (
    Mst,
    MstOp,
    NodeData,
    NodeEntry,
    decode_node,
    diff,
    encode_node,
    engine,
    invert_ops,
    key_height,
    lookup,
)
from relay_core.mst.node import decode_node_raw, encode_node_raw


def _cid(n: int) -> Cid:
    return Cid.for_dag_cbor(n.to_bytes(4, "big"))


def _keys(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return sorted({f"app.bsky.feed.post/{rng.getrandbits(40):012x}" for _ in range(n)})


def test_insertion_order_independent() -> None:
    keys = _keys(300)
    items = [(k, _cid(i)) for i, k in enumerate(keys)]
    built = Mst.from_items(items)
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    tree = Mst.empty()
    for k, v in shuffled:
        tree = tree.set(k, v)
    assert tree.root == built.root
    assert list(tree.items()) == items


def test_delete_all_returns_to_empty() -> None:
    keys = _keys(120)
    tree = Mst.from_items((k, _cid(i)) for i, k in enumerate(keys))
    for k in reversed(keys):
        tree = tree.delete(k)
    assert tree.root == Mst.empty().root
    assert len(tree) == 0


def test_persistent_versions_and_lookup() -> None:
    a = Mst.from_items([("app.bsky.feed.post/a", _cid(1))])
    b = a.set("app.bsky.feed.post/b", _cid(2))
    assert a.get("app.bsky.feed.post/b") is None
    assert b.get("app.bsky.feed.post/b") == _cid(2)
    with pytest.raises(KeyError):
        a.delete("app.bsky.feed.post/zzz")


def test_load_round_trip() -> None:
    tree = Mst.from_items((k, _cid(i)) for i, k in enumerate(_keys(200)))
    loaded = Mst.load(tree.root, tree.node_blocks())
    assert list(loaded.items()) == list(tree.items())


def test_diff_blocks_and_ops() -> None:
    keys = _keys(100)
    old = Mst.from_items((k, _cid(i)) for i, k in enumerate(keys))
    new = old.set(keys[3], _cid(999)).delete(keys[50]).set("app.bsky.feed.like/x", _cid(7))
    d = diff(old, new)
    assert {op.path for op in d.ops} == {keys[3], keys[50], "app.bsky.feed.like/x"}
    assert new.root in d.new_blocks and old.root in d.removed_cids
    assert set(d.new_blocks) <= set(new.node_blocks())


def test_node_codec_round_trip_and_rejections() -> None:
    node = NodeData(left=None, entries=(NodeEntry(0, b"app.bsky.feed.post/abc", _cid(1), _cid(2)),))
    data = encode_node(node)
    assert decode_node(data) == node
    with pytest.raises(InvalidMst):
        decode_node(data + b"\x00")  # trailing bytes
    with pytest.raises(InvalidMst):
        decode_node(data[:-3])  # truncated
    # v written as a plain byte string instead of a tag-42 link: the canonical check catches it.
    bogus = data.replace(b"\x61v\xd8\x2a\x58\x25\x00", b"\x61v\x58\x24")
    with pytest.raises(InvalidMst):
        decode_node(bogus)
    # A non-minimal length head for the key suffix.
    suffix = b"app.bsky.feed.post/abc"
    padded = data.replace(bytes([0x40 | len(suffix)]) + suffix, b"\x58" + bytes([len(suffix)]) + suffix)
    assert padded != data
    with pytest.raises(InvalidMst):
        decode_node(padded)
    # Extra field in the node map.
    with pytest.raises(InvalidMst):
        decode_node(libipld.encode_dag_cbor({"e": [], "l": None, "x": 1}))


def test_decode_rejects_bad_keys_and_order() -> None:
    def raw(entries: list[dict[str, object]]) -> bytes:
        return libipld.encode_dag_cbor({"e": entries, "l": None})  # type: ignore[no-any-return]

    v = _cid(1).raw
    with pytest.raises(InvalidMst):
        decode_node(raw([{"k": b"no-slash", "p": 0, "t": None, "v": v}]))
    with pytest.raises(InvalidMst):
        decode_node(raw([{"k": b"a/b", "p": 0, "t": None, "v": v}, {"k": b"a", "p": 2, "t": None, "v": v}]))
    with pytest.raises(InvalidMst):  # prefix longer than the previous key
        decode_node(raw([{"k": b"a/b", "p": 0, "t": None, "v": v}, {"k": b"c", "p": 9, "t": None, "v": v}]))


def _commit_fixture(n_keys: int, seed: int) -> tuple[Mst, Mst, list[MstOp]]:
    keys = _keys(n_keys, seed)
    old = Mst.from_items((k, _cid(i)) for i, k in enumerate(keys))
    created = "app.bsky.feed.post/zzzz" + str(seed)
    new = old.set(created, _cid(10_000)).set(keys[5], _cid(10_001)).delete(keys[9])
    ops = [
        MstOp(created, _cid(10_000), None),
        MstOp(keys[5], _cid(10_001), old.get(keys[5])),
        MstOp(keys[9], None, old.get(keys[9])),
    ]
    return old, new, ops


@pytest.mark.parametrize("seed", range(8))
def test_invert_ops_random_commits(seed: int) -> None:
    old, new, ops = _commit_fixture(400, seed)
    proof = new.proof_blocks(op.path for op in ops)
    assert invert_ops(new.root, proof, ops) == old.root


def test_invert_ops_op_mismatch() -> None:
    old, new, ops = _commit_fixture(200, 1)
    proof = new.proof_blocks(op.path for op in ops)
    wrong_cid = [MstOp(ops[0].path, _cid(5), None), *ops[1:]]
    with pytest.raises(InvalidMst) as exc:
        invert_ops(new.root, proof, wrong_cid)
    assert exc.value.reason == "op_mismatch"
    still_there = [MstOp(ops[1].path, None, ops[1].prev)]
    with pytest.raises(InvalidMst) as exc:
        invert_ops(new.root, proof, still_there)
    assert exc.value.reason == "op_mismatch"
    with pytest.raises(InvalidMst) as exc:
        invert_ops(new.root, proof, [ops[0], ops[0]])
    assert exc.value.reason == "op_mismatch"


def test_invert_ops_incomplete() -> None:
    old, new, ops = _commit_fixture(300, 2)
    only_root = new.blocks_for([new.root])
    with pytest.raises(InvalidMst) as exc:
        invert_ops(new.root, only_root, ops)
    assert exc.value.reason == "mst_incomplete"
    with pytest.raises(InvalidMst) as exc:
        lookup(new.root, {}, ops[0].path)
    assert exc.value.reason == "mst_incomplete"


def test_wrong_prev_gives_other_root() -> None:
    old, new, ops = _commit_fixture(200, 3)
    proof = new.proof_blocks(op.path for op in ops)
    lying = [ops[0], MstOp(ops[1].path, ops[1].cid, _cid(4242)), ops[2]]
    assert invert_ops(new.root, proof, lying) != old.root


def test_key_height_distribution_sane() -> None:
    heights = [key_height(k) for k in _keys(2000)]
    assert 0.65 < heights.count(0) / len(heights) < 0.85


def test_invert_reencodes_a_non_canonical_node_on_the_path() -> None:
    # Inversion patches child links into the loaded bytes only for canonically encoded nodes;
    # a node whose prefix lengths are not the full common prefix must be re-encoded, which is
    # what makes the recomputed root differ from one built on the deviant bytes.
    for seed in range(50):
        old = Mst.from_items((k, _cid(i)) for i, k in enumerate(_keys(60, seed)))
        created = next(
            f"app.bsky.feed.post/new{n}" for n in range(100) if key_height(f"app.bsky.feed.post/new{n}") == 0
        )
        new = old.set(created, _cid(999))
        blocks = new.proof_blocks([created])
        root = decode_node_raw(blocks[new.root])
        if root.layer == 0 or len(root.keys) < 2:
            continue
        entries = [
            {"k": key, "p": 0, "t": gap, "v": val}
            for key, val, gap in zip(root.keys, root.vals, root.gaps[1:], strict=True)
        ]
        deviant = libipld.encode_dag_cbor({"e": entries, "l": root.gaps[0]})
        assert not decode_node_raw(deviant, strict=False).canonical
        with pytest.raises(InvalidMst):
            decode_node_raw(deviant)
        deviant_cid = Cid.for_dag_cbor(deviant)
        blocks = {**blocks, deviant_cid: deviant}
        ops = [MstOp(created, _cid(999), None)]
        assert invert_ops(deviant_cid, blocks, ops) == old.root
        return
    pytest.fail("no fixture tree with a multi-key root above layer 0")


def test_patch_links_turns_a_vanished_link_into_null() -> None:
    """Dropping a child link by byte substitution gives exactly the node's canonical encoding."""
    patched = 0
    for seed in range(6):
        tree = Mst.from_items((k, _cid(i)) for i, k in enumerate(_keys(150, seed)))
        store = tree._store
        tree.root  # noqa: B018 - seals, so every node is in the store
        for raw in list(store):
            try:
                node = engine.load_root(raw, store.get, strict=False)
            except InvalidMst:
                continue  # a record block
            for i, gap in enumerate(node.gaps):
                if gap is None:
                    continue
                gaps = [
                    None if j == i else (g.cid if isinstance(g, engine.Node) else g)
                    for j, g in enumerate(node.gaps)
                ]
                data = engine._patch_links(node, gaps)
                assert data == encode_node_raw(node.keys, node.vals, gaps)
                patched += 1
    assert patched > 100


def test_invert_a_create_that_made_a_new_leaf() -> None:
    """Undoing a create that sits alone in its node: the node goes and its parent's link turns null."""
    old = Mst.from_items((k, _cid(i)) for i, k in enumerate(_keys(40, 7)))
    alone = 0
    rng = random.Random(11)
    for n in range(300):
        created = f"app.bsky.feed.post/{rng.getrandbits(40):012x}"
        new = old.set(created, _cid(5000 + n))
        store = new._store
        new_root = new.root
        spot = engine.find(
            engine.load_root(new_root.raw, store.get), created.encode(), store.get, key_height(created)
        )
        assert spot is not None
        alone += spot[1].keys == [created.encode()] and bool(spot[0])
        proof = new.proof_blocks([created])
        assert invert_ops(new_root, proof, [MstOp(created, _cid(5000 + n), None)]) == old.root
    assert alone > 10
