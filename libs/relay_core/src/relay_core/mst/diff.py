"""What changed between two MST versions: node blocks to ship and record-level ops."""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.cid import Cid
from relay_core.mst.inversion import MstOp
from relay_core.mst.tree import Mst

__all__ = ["MstDiff", "diff"]


@dataclass(frozen=True, slots=True)
class MstDiff:
    """The difference from an old tree to a new one."""

    new_blocks: dict[Cid, bytes]
    """Node blocks reachable from the new root but not from the old one."""
    removed_cids: frozenset[Cid]
    """Node CIDs reachable from the old root but not from the new one."""
    ops: tuple[MstOp, ...]
    """Record changes in key order, shaped like a `#commit`'s ops."""


def diff(old: Mst, new: Mst) -> MstDiff:
    """Compare two trees fully (walks both; meant for tests and tools, not hot paths)."""
    old_blocks = old.node_blocks()
    new_blocks = new.node_blocks()
    added = {cid: data for cid, data in new_blocks.items() if cid not in old_blocks}
    removed = frozenset(cid for cid in old_blocks if cid not in new_blocks)
    before = dict(old.items())
    after = dict(new.items())
    ops: list[MstOp] = []
    for key in sorted(before.keys() | after.keys()):
        prev, cid = before.get(key), after.get(key)
        if prev != cid:
            ops.append(MstOp(path=key, cid=cid, prev=prev))
    return MstDiff(new_blocks=added, removed_cids=removed, ops=tuple(ops))
