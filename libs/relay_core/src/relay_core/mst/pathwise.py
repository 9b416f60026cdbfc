"""Sync v1.1 inversion of the usual commit in one pass over the op paths, or None.

`invert_ops_raw` tries this first. It is the general algorithm (`inversion._invert_general`)
restricted to what real commits do: undo a create whose key has a subtree on at most one
side, an update, or a delete that goes back into an existing node (or a new node right under
its parent). Anything else returns None before any result is produced, and the caller runs the
general algorithm from the start, which also gives the precise error for a bad commit: this
module never raises `InvalidMst` itself and never accepts what the general path rejects.

Why it is cheaper: nodes are read once by `read_node_fields` into plain lists that are edited
in place (they belong to this call), nothing is rebuilt per level, and at the end each changed
node is written once: a node whose entries are unchanged has its changed links swapped into its
canonical bytes (the general `seal`'s patch, for the one or two links this pass knows changed),
any other is encoded; then one sha256 each.

What it must match, step by step (`test_mst_pathwise` compares both on random trees, ops,
dropped blocks and broken ops):
    - the same nodes are opened with the same checks as `engine.load_root` / `engine.load`
      (a node the general path would reject makes this return None);
    - every op is checked against the new tree before any undo, then undone in reverse order;
    - a node emptied by an undo is pruned from its parent as `engine.replace_at` does, and
      every node on an undo path is re-encoded in canonical form, as `engine.seal` does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Final

from relay_core.mst.keys import key_height_bytes
from relay_core.mst.node import CID_PREFIX, encode_node_raw, read_node_fields

if TYPE_CHECKING:
    from relay_core.mst.inversion import RecordOp

__all__ = ["invert_pathwise"]

# A node is a list, indexed by these, because this runs per event and a list is the cheapest
# mutable record to build and read. `gaps` holds raw CIDs, None, or the loaded child node.
_KEYS: Final = 0
_VALS: Final = 1
_GAPS: Final = 2
_LAYER: Final = 3
_CID: Final = 4
"""The node's CID as loaded, or None for a node this pass created."""
_DATA: Final = 5
_CANONICAL: Final = 6
_STATE: Final = 7
"""_CLEAN, _LINKS (only child links changed; `_DATA` can be patched) or _EDITED."""
_CHANGED: Final = 8
"""For _LINKS: the gap indexes whose link changed, with the link the block holds there."""

_CLEAN: Final = 0
_LINKS: Final = 1
_EDITED: Final = 2

_LINK_HEAD: Final = b"\xd8\x2a\x58\x25\x00"
_NULL: Final = b"\xf6"

Node = list[Any]
Ref = Any
"""A gap: None, a raw CID not yet opened, or a `Node`."""


class _Unusual(Exception):
    """Internal: this commit is not for the fast path (the general one decides)."""


def _open(data: bytes | None, cid: bytes, layer: int | None) -> Node:
    """A node from its block, with `engine.load_root` (layer None) or `engine._load_block`'s checks."""
    if data is None:
        raise _Unusual
    fields = read_node_fields(data)
    if fields is None:
        raise _Unusual
    keys, vals, gaps, found, canonical = fields
    if found is None:
        # Entry-less: below the root it needs a child; the root may only be the empty tree.
        if (gaps[0] is None) is (layer is not None):
            raise _Unusual
        found = 0 if layer is None else layer
    elif layer is not None and found != layer:
        raise _Unusual
    if found == 0 and gaps.count(None) != len(gaps):
        raise _Unusual
    return [keys, vals, gaps, found, cid, data, canonical, _CLEAN, None]


def _new(keys: list[bytes], vals: list[bytes], gaps: list[Ref], layer: int) -> Node:
    """A node this pass makes (no block yet)."""
    return [keys, vals, gaps, layer, None, None, True, _EDITED, None]


def _empty(node: Node) -> bool:
    """Holds nothing: pruned from its parent, or the empty tree when it is the root."""
    return not node[_KEYS] and node[_GAPS][0] is None


def _child(node: Node, i: int, get: Any) -> Node | None:
    """`engine.load`: the child at gap `i`, opened and kept in place on first use."""
    ref = node[_GAPS][i]
    if ref is None or type(ref) is list:
        return ref
    child = _open(get(ref), ref, node[_LAYER] - 1)
    node[_GAPS][i] = child
    return child


def _descend(
    root: Node, key: bytes, height: int, get: Any
) -> tuple[list[tuple[Node, int]], Node | None, int]:
    """The `(node, gap index)` steps above `key`'s layer, the node at its layer (None when the
    walk ends first: a missing subtree or a root below `height`) and the key's index there."""
    steps: list[tuple[Node, int]] = []
    node = root
    layer = node[_LAYER]
    if layer < height:
        return steps, None, 0
    while True:
        i = bisect_left(node[_KEYS], key)
        if layer == height:
            return steps, node, i
        steps.append((node, i))
        layer -= 1
        child = node[_GAPS][i]  # `_child`, inlined: this loop runs for every level of every op
        if child is None:
            return steps, None, i
        if type(child) is bytes:
            child = node[_GAPS][i] = _open(get(child), child, layer)
        node = child


def _load(ref: Ref, layer: int, get: Any) -> Node:
    """A subtree link as a node (`engine._merge`/`_split` open the raw CIDs they meet)."""
    return ref if type(ref) is list else _open(get(ref), ref, layer)  # type: ignore[arg-type]


def _merge(left: Ref, right: Ref, layer: int, get: Any) -> Ref:
    """`engine._merge`: two adjacent subtrees at `layer` joined into one new node."""
    if left is None:
        return right
    if right is None:
        return left
    a = _load(left, layer, get)
    b = _load(right, layer, get)
    seam = _merge(a[_GAPS][-1], b[_GAPS][0], layer - 1, get)
    return _new(a[_KEYS] + b[_KEYS], a[_VALS] + b[_VALS], [*a[_GAPS][:-1], seam, *b[_GAPS][1:]], layer)


def _split(ref: Ref, key: bytes, layer: int, get: Any) -> tuple[Ref, Ref]:
    """`engine._split`: a subtree at `layer` cut into new nodes below and above `key`."""
    if ref is None:
        return None, None
    node = _load(ref, layer, get)
    keys = node[_KEYS]
    i = bisect_left(keys, key)
    lo_child, hi_child = _split(node[_GAPS][i], key, layer - 1, get) if layer > 0 else (None, None)
    gaps = node[_GAPS]
    lo: Ref = None
    hi: Ref = None
    if i or lo_child is not None:
        lo = _new(keys[:i], node[_VALS][:i], [*gaps[:i], lo_child], layer)
    if i < len(keys) or hi_child is not None:
        hi = _new(keys[i:], node[_VALS][i:], [hi_child, *gaps[i + 1 :]], layer)
    return lo, hi


def _wrap(ref: Ref, layer: int, to_layer: int) -> Ref:
    """`engine._wrap`: entry-less nodes stacked over `ref` (at `layer`) up to `to_layer`."""
    if ref is not None:
        for up in range(layer + 1, to_layer + 1):
            ref = _new([], [], [ref], up)
    return ref


def _touch(steps: list[tuple[Node, int]]) -> None:
    """Record the changed link in each node above an undo; prune emptied children on the way
    up, as `engine.replace_at` and `engine._delete` do."""
    for parent, j in reversed(steps):
        gaps = parent[_GAPS]
        child = gaps[j]
        state = parent[_STATE]
        if state == _CLEAN:
            parent[_STATE] = _LINKS
            # A clean parent's gaps line up with its block, so the child's own CID (None for
            # a node this pass made where the block has null) is the link the block holds.
            parent[_CHANGED] = {j: child[_CID]}
        elif state == _LINKS and j not in parent[_CHANGED]:
            parent[_CHANGED][j] = child[_CID]
        if _empty(child):
            gaps[j] = None


def _has(node: Node | None, i: int, key: bytes) -> bool:
    """`key` is at index `i` of `node`."""
    return node is not None and i < len(node[_KEYS]) and node[_KEYS][i] == key


def _undo(
    root: Node,
    steps: list[tuple[Node, int]],
    node: Node | None,
    i: int,
    key: bytes,
    height: int,
    op: RecordOp,
    get: Any,
) -> Node:
    """Undo one checked op at the place `_descend` found for its key; return the root."""
    prev = op.prev
    if prev is None:  # a create: remove the key, joining the subtrees on either side
        if not _has(node, i, key):
            raise _Unusual
        assert node is not None
        gaps = node[_GAPS]
        del node[_KEYS][i]
        del node[_VALS][i]
        gaps[i : i + 2] = [_merge(gaps[i], gaps[i + 1], node[_LAYER] - 1, get)]
        node[_STATE] = _EDITED
    elif op.cid is not None:  # an update: restore the value
        if not _has(node, i, key):
            raise _Unusual
        assert node is not None
        node[_VALS][i] = prev.raw
        node[_STATE] = _EDITED
    elif _empty(root):  # `engine.insert` into the empty tree
        return _new([key], [prev.raw], [None, None], height)
    elif node is None and not steps:  # above the root: `engine.insert` splits it
        lo, hi = _split(root, key, root[_LAYER], get)
        layer = root[_LAYER]
        return _new([key], [prev.raw], [_wrap(lo, layer, height - 1), _wrap(hi, layer, height - 1)], height)
    elif node is None:
        # The key had a subtree of its own where its parent now has none: a new node, under
        # entry-less nodes down from the parent's layer.
        parent, j = steps[-1]
        parent[_GAPS][j] = _wrap(_new([key], [prev.raw], [None, None], height), height, parent[_LAYER] - 1)
    else:  # a delete: put the key back, splitting the subtree that spans its place
        if _has(node, i, key):
            raise _Unusual  # cannot happen after the check; the general path says why
        gaps = node[_GAPS]
        lo, hi = _split(gaps[i], key, node[_LAYER] - 1, get)
        node[_KEYS].insert(i, key)
        node[_VALS].insert(i, prev.raw)
        gaps[i : i + 1] = [lo, hi]
        node[_STATE] = _EDITED
    _touch(steps)
    # The general path replaces an emptied root with `engine.empty_root` (layer 0).
    return _new([], [], [None], 0) if _empty(root) else root


def _seal(node: Node) -> bytes:
    """The node's link after the undos (its own CID when unchanged), encoding what changed."""
    state = node[_STATE]
    if state == _CLEAN:
        cid: bytes = node[_CID]
        return cid
    gaps = node[_GAPS]
    data = None
    if state == _LINKS and node[_CANONICAL]:
        data = node[_DATA]
        for j, old in node[_CHANGED].items():
            ref = gaps[j]
            new = _seal(ref) if type(ref) is list else ref
            if new == old:
                continue
            if old is None or data.count(old) != 1:
                data = None  # a link in place of a null, or a CID seen twice: encode
                break
            # `engine._patch_links`: a link swapped for another of the same length, or one
            # that went away turned into CBOR null; heads count items, so nothing else moves.
            data = data.replace(old, new) if new is not None else data.replace(_LINK_HEAD + old, _NULL)
    if data is None:
        links = [ref if ref is None or type(ref) is bytes else _seal(ref) for ref in gaps]
        data = encode_node_raw(node[_KEYS], node[_VALS], links)
    cid = CID_PREFIX + sha256(data).digest()
    node[_STATE] = _CLEAN
    node[_CID] = cid
    return cid


def invert_pathwise(new_root: bytes, blocks: Mapping[bytes, bytes], ops: Sequence[RecordOp]) -> bytes | None:
    """The previous root's raw CID, as `inversion._invert_general` computes it, or None when
    the commit needs the general path (unusual shape, or anything the general path rejects)."""
    get = blocks.get
    try:
        root = _open(get(new_root), new_root, None)
        seen: set[bytes] = set()
        walks: list[tuple[bytes, int, list[tuple[Node, int]], Node | None, int]] = []
        for op in ops:
            key = op.path.encode()
            if key in seen:
                return None
            seen.add(key)
            height = key_height_bytes(key)
            steps, node, i = _descend(root, key, height, get)
            current = (
                node[_VALS][i]
                if node is not None and i < len(node[_KEYS]) and node[_KEYS][i] == key
                else None
            )
            cid = op.cid
            if cid is None:
                if op.prev is None or current is not None:
                    return None
            elif current != cid.raw or (op.prev is not None and op.prev.raw == current):
                return None
            walks.append((key, height, steps, node, i))
        # Undo in reverse order. The last op's walk is still current (nothing changed yet);
        # the others walk again over the edited tree, as the general path does.
        for n in range(len(walks) - 1, -1, -1):
            key, height, steps, node, i = walks[n]
            if n != len(walks) - 1:
                steps, node, i = _descend(root, key, height, get)
            root = _undo(root, steps, node, i, key, height, ops[n], get)
        # `engine.trim`: entry-less nodes at the top go, down to the first with entries (or a
        # child not in the blocks, whose CID becomes the root unexamined).
        while not root[_KEYS] and root[_GAPS][0] is not None:
            ref = root[_GAPS][0]
            if type(ref) is bytes and get(ref) is None:
                return ref
            child = _child(root, 0, get)
            assert child is not None
            root = child
        return _seal(root)
    except _Unusual:
        return None
