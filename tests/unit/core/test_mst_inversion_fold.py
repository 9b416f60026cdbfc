"""`invert_ops_raw` folds the last create/update's lookup into its undo; it must give exactly the
root, or the error, of the original two passes (lookup every op, then undo in reverse)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import Mst, MstOp, engine, invert_ops_raw
from relay_core.mst.inversion import RecordOp
from relay_core.mst.keys import key_height_bytes


def two_pass(new_root: bytes, blocks: Mapping[bytes, bytes], ops: Sequence[RecordOp]) -> bytes:
    """The inversion as it was before the fold (reference)."""
    source = blocks.get
    root = engine.load_root(new_root, source, strict=False)
    seen: set[bytes] = set()
    keyed: list[tuple[bytes, int, RecordOp]] = []
    for op in ops:
        key = op.path.encode()
        if key in seen:
            raise InvalidMst(f"path {op.path!r} appears twice in one commit", reason="op_mismatch")
        seen.add(key)
        height = key_height_bytes(key)
        current = engine.get(root, key, source, height)
        expected = None if op.cid is None else op.cid.raw
        if current != expected:
            raise InvalidMst(f"op on {op.path!r} does not match the new tree", reason="op_mismatch")
        if op.cid is not None and op.prev is not None and op.cid == op.prev:
            raise InvalidMst(f"update of {op.path!r} does not change it", reason="op_mismatch")
        if op.cid is None and op.prev is None:
            raise InvalidMst(f"delete of {op.path!r} lacks prev", reason="op_mismatch")
        keyed.append((key, height, op))
    for key, height, op in reversed(keyed):
        if op.prev is None:
            new = engine.delete(root, key, source, height)
            if new is None:
                raise InvalidMst(f"cannot remove {op.path!r}", reason="op_mismatch")
            root = new
        else:
            root = engine.insert(root, key, op.prev.raw, source, height)
    root = engine.trim(root, source)
    return engine.seal(root)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except InvalidMst as exc:
        return "error", (str(exc), exc.reason)


def _cid(i: int) -> Cid:
    return Cid.for_raw(i.to_bytes(4, "big"))


def test_fold_matches_two_passes() -> None:
    rng = random.Random(1234)
    checked = 0
    for _ in range(120):
        n = rng.choice([0, 1, 2, 5, 20, 60])
        keys = [f"app.bsky.feed.post/k{rng.randrange(10**6):07d}" for _ in range(n)]
        old_items = dict.fromkeys(keys, _cid(0))
        for k in old_items:
            old_items[k] = _cid(rng.randrange(10**6))
        old = Mst.from_items(old_items.items())
        new = old
        ops: list[MstOp] = []
        for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
            kind = rng.choice(["create", "update", "delete"])
            if kind != "create" and old_items:
                key = rng.choice(sorted(old_items))
                if any(op.path == key for op in ops):
                    continue
                if kind == "update":
                    cid = _cid(rng.randrange(10**6) + 10**6)
                    new = new.set(key, cid)
                    ops.append(MstOp(key, cid, old_items[key]))
                else:
                    new = new.delete(key)
                    ops.append(MstOp(key, None, old_items[key]))
            else:
                key = f"app.bsky.feed.post/n{rng.randrange(10**6):07d}"
                if key in old_items or any(op.path == key for op in ops):
                    continue
                cid = _cid(rng.randrange(10**6) + 2 * 10**6)
                new = new.set(key, cid)
                ops.append(MstOp(key, cid, None))
        if not ops:
            continue
        proof = {c.raw: b for c, b in new.proof_blocks([op.path for op in ops]).items()}
        variants: list[tuple[dict[bytes, bytes], list[MstOp]]] = [(proof, ops)]
        for dropped in list(proof)[:6]:
            if dropped != new.root.raw:
                variants.append(({c: b for c, b in proof.items() if c != dropped}, ops))
        last = ops[-1]
        variants += [
            (proof, [*ops[:-1], MstOp(last.path, _cid(7), last.prev)]),
            (proof, [*ops[:-1], MstOp(last.path, last.cid, last.cid)]),
            (proof, [*ops[:-1], MstOp(last.path, last.cid, None)]),
            (proof, [*ops[:-1], MstOp(last.path, None, None)]),
            (proof, [*ops[:-1], MstOp("app.bsky.feed.post/zzz", _cid(8), None)]),
            (proof, [*ops, ops[0]]),
            (proof, list(reversed(ops))),
        ]
        for blocks, variant in variants:
            expected = _outcome(two_pass, new.root.raw, blocks, variant)
            assert _outcome(invert_ops_raw, new.root.raw, blocks, variant) == expected
            checked += 1
        assert _outcome(invert_ops_raw, new.root.raw, proof, ops) == ("ok", old.root.raw)
    assert checked > 500
