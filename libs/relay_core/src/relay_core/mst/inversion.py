"""Sync v1.1 inversion: recompute the previous MST root from a `#commit`'s partial tree.

A `#commit` carries the new tree's changed nodes plus the proof nodes beside each op's key, not
the whole repo. Undoing the ops on that partial tree (delete what was created, restore `prev` on
updates, re-insert what was deleted) must reproduce the previous commit's ``data`` CID
(``prevData``); that is what lets a relay check the commit chain without holding repos.

Only nodes on the touched paths are decoded, rebuilt and hashed; every other subtree keeps its
CID unopened, so an unrelated missing subtree is fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import engine
from relay_core.mst.keys import key_height_bytes
from relay_core.mst.pathwise import invert_pathwise

__all__ = ["MstOp", "RecordOp", "invert_ops", "invert_ops_raw", "lookup", "lookup_raw", "proof_cids"]


@dataclass(frozen=True, slots=True)
class MstOp:
    """One record operation as a `#commit` lists it.

    create: `cid` set, `prev` None; update: both set; delete: `cid` None, `prev` set.
    `prev` comes from the op's ``prev`` field (sync v1.1); inverting needs it for updates and
    deletes.
    """

    path: str
    cid: Cid | None
    prev: Cid | None


class RecordOp(Protocol):
    """Anything shaped like an op: `MstOp`, or a firehose `RepoOp` passed as it is."""

    @property
    def path(self) -> str: ...
    @property
    def cid(self) -> Cid | None: ...
    @property
    def prev(self) -> Cid | None: ...


def _raw_blocks(blocks: Mapping[Cid, bytes]) -> dict[bytes, bytes]:
    return {cid.raw: data for cid, data in blocks.items()}


def lookup(root: Cid, blocks: Mapping[Cid, bytes], key: str) -> Cid | None:
    """The record CID under `key` in the (possibly partial) tree at `root`, or None if absent.

    Raises:
        InvalidMst: ``mst_incomplete`` if a node on the key's path is missing; ``bad_node`` if
            a node on it is malformed.
    """
    raw = lookup_raw(root.raw, _raw_blocks(blocks), key)
    return None if raw is None else Cid.from_bytes(raw)


def lookup_raw(root: bytes, blocks: Mapping[bytes, bytes], key: str) -> bytes | None:
    """`lookup` over binary CIDs (a raw-CID-keyed block map, as `read_car_raw` returns)."""
    source = blocks.get
    return engine.get(engine.load_root(root, source, strict=False), key.encode(), source)


def invert_ops(new_root: Cid, blocks: Mapping[Cid, bytes], ops: Sequence[RecordOp]) -> Cid:
    """Undo `ops` on the partial tree at `new_root`; return the previous tree's root CID.

    Always checks: each create/update's `cid` is the key's current value and each deleted key is
    absent (``op_mismatch``); updates and deletes carry `prev` (``op_mismatch``); paths are
    unique (``op_mismatch``); every node the undo has to open is present (``mst_incomplete``)
    and well-formed (``bad_node``).
    Does not check (the caller must): that the result equals the event's ``prevData``, that
    `blocks` hash to their CIDs (the CAR reader's job), or the key syntax beyond the MST's.

    Raises:
        InvalidMst: with the reasons above.
    """
    return Cid.from_bytes(invert_ops_raw(new_root.raw, _raw_blocks(blocks), ops))


def invert_ops_raw(new_root: bytes, blocks: Mapping[bytes, bytes], ops: Sequence[RecordOp]) -> bytes:
    """`invert_ops` over binary CIDs: root and block keys as 36 bytes; returns the raw root.

    Raises:
        InvalidMst: as `invert_ops`.
    """
    # The usual commit takes one pass over its op paths; anything else, and every error, is
    # the general algorithm's (the fast pass accepts nothing that this one rejects).
    found = invert_pathwise(new_root, blocks, ops)
    if found is not None:
        return found
    return _invert_general(new_root, blocks, ops)


def _invert_general(new_root: bytes, blocks: Mapping[bytes, bytes], ops: Sequence[RecordOp]) -> bytes:
    """`invert_ops_raw` by the copy-on-write engine: any tree shape, precise errors."""
    source = blocks.get
    root = engine.load_root(new_root, source, strict=False)
    seen: set[bytes] = set()
    keyed: list[tuple[bytes, int, RecordOp]] = []
    last = len(ops) - 1
    for n, op in enumerate(ops):
        key = op.path.encode()
        if key in seen:
            raise InvalidMst(f"path {op.path!r} appears twice in one commit", reason="op_mismatch")
        seen.add(key)
        height = key_height_bytes(key)
        if n == last and op.cid is not None:
            # The last op's check is immediately followed by its undo (the first one the loop
            # below does), so a create/update is looked up and undone in one walk down.
            spot = engine.find(root, key, source, height)
            if spot is None or spot[1].vals[spot[2]] != op.cid.raw:
                raise InvalidMst(f"op on {op.path!r} does not match the new tree", reason="op_mismatch")
            if op.prev is not None and op.cid == op.prev:
                raise InvalidMst(f"update of {op.path!r} does not change it", reason="op_mismatch")
            root = engine.replace_at(*spot, None if op.prev is None else op.prev.raw, source)
            break
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
            if new is None:  # unreachable: the key was just found
                raise InvalidMst(f"cannot remove {op.path!r}", reason="op_mismatch")
            root = new
        else:
            root = engine.insert(root, key, op.prev.raw, source, height)
    root = engine.trim(root, source)
    return engine.seal(root)


def proof_cids(root: Cid, blocks: Mapping[Cid, bytes], paths: Iterable[str]) -> set[Cid]:
    """The node CIDs a `#commit` must carry so any consumer can invert ops on `paths`.

    For each key: every node on its search path down to layer 0 and, where the key sits in a
    node, down both neighbouring subtrees' facing edges. This matches the interop vectors'
    ``blocksInProof`` exactly; `invert_ops` itself often needs fewer.
    """
    store = _raw_blocks(blocks)
    top = engine.load_root(root.raw, store.get)
    out: set[bytes] = set()
    for path in paths:
        engine.cover(top, path.encode(), store.get, out)
    return {Cid.from_bytes(raw) for raw in out}
