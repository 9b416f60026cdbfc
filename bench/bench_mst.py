"""MST micro-benchmarks: sync v1.1 inversion, tree build, lookups. Prints a markdown table.

Run: `uv run --frozen python bench/bench_mst.py [--keys N]`. Single-threaded; numbers are the
best of several repeats, in microseconds of CPU time (`time.process_time_ns`) per operation.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from relay_core.cid import Cid
from relay_core.mst import Mst, MstOp, invert_ops, lookup

_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def _tid(rng: random.Random) -> str:
    return "3" + "".join(rng.choice(_TID_CHARS) for _ in range(12))


def _record_cid(n: int) -> Cid:
    return Cid.for_dag_cbor(n.to_bytes(8, "big"))


def _best_us(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for _ in range(number):
            fn()
        best = min(best, (time.process_time_ns() - start) / number)
    return best / 1000


def _repo(rng: random.Random, size: int) -> tuple[Mst, list[str]]:
    collections = ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow"]
    keys = sorted({f"{rng.choice(collections)}/{_tid(rng)}" for _ in range(size)})
    return Mst.from_items((k, _record_cid(i)) for i, k in enumerate(keys)), keys


def _commit(
    rng: random.Random, tree: Mst, keys: list[str], n_ops: int
) -> tuple[Cid, dict[Cid, bytes], list[MstOp]]:
    """One commit's (new root, carried node blocks, ops): mostly creates, some updates/deletes."""
    new = tree
    ops: list[MstOp] = []
    used: set[str] = set()
    for i in range(n_ops):
        kind = i % 3 if n_ops > 1 else 0
        if kind == 0:
            key = f"app.bsky.feed.post/{_tid(rng)}"
            cid = _record_cid(10_000_000 + i)
            new = new.set(key, cid)
            ops.append(MstOp(path=key, cid=cid, prev=None))
        else:
            key = rng.choice([k for k in keys if k not in used])
            prev = tree.get(key)
            if kind == 1:
                cid = _record_cid(20_000_000 + i)
                new = new.set(key, cid)
                ops.append(MstOp(path=key, cid=cid, prev=prev))
            else:
                new = new.delete(key)
                ops.append(MstOp(path=key, cid=None, prev=prev))
        used.add(key)
    root = new.root
    return root, new.proof_blocks(op.path for op in ops), ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=10_000, help="records in the benchmark repo")
    args = parser.parse_args()
    rng = random.Random(7)
    tree, keys = _repo(rng, args.keys)
    before = tree.root
    rows: list[tuple[str, float, str]] = []

    for n_ops in (1, 3, 10):
        new_root, blocks, ops = _commit(rng, tree, keys, n_ops)
        assert invert_ops(new_root, blocks, ops) == before
        us = _best_us(lambda r=new_root, b=blocks, o=ops: invert_ops(r, b, o), number=2000)
        rows.append((f"invert_ops, {n_ops}-op commit ({len(blocks)} proof nodes)", us, f"{args.keys} keys"))

    items = [(k, _record_cid(i)) for i, k in enumerate(keys[:1000])]
    rows.append(("build 1k keys + root CID", _best_us(lambda: Mst.from_items(items).root, 5), ""))

    probe = rng.sample(keys, 200)
    rows.append(("Mst.get (loaded tree)", _best_us(lambda: [tree.get(k) for k in probe], 20) / 200, ""))

    new_root, blocks, ops = _commit(rng, tree, keys, 1)
    rows.append(
        ("lookup() over a commit's blocks", _best_us(lambda: lookup(new_root, blocks, ops[0].path), 5000), "")
    )

    print("| operation | µs/op | note |\n|---|---:|---|")
    for name, us, note in rows:
        print(f"| {name} | {us:.1f} | {note} |")


if __name__ == "__main__":
    main()
