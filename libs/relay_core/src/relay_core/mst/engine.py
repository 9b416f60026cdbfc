"""Copy-on-write MST algorithms over raw-bytes nodes, tolerant of partial trees.

Every operation returns new nodes along the touched path and shares everything else, so a tree
and its successor coexist cheaply and only the touched path is re-encoded and re-hashed.
Children are held as a loaded `Node`, a raw CID not yet loaded, or None; a raw CID is loaded
only when an operation has to look inside it, which is what lets sync v1.1 inversion run over
the handful of blocks a `#commit` carries. Needing a block that is absent raises
``InvalidMst(reason="mst_incomplete")``.

Blocks handed in must already be CID-checked (the CAR reader does that); loading does not
re-hash them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from hashlib import sha256
from typing import Union

from relay_core.errors import InvalidMst
from relay_core.mst.keys import key_height_bytes
from relay_core.mst.node import CID_PREFIX, decode_node_fields, encode_node_raw

__all__ = [
    "BlockSource",
    "Node",
    "Ref",
    "build",
    "cover",
    "delete",
    "empty_root",
    "find",
    "get",
    "insert",
    "load",
    "load_root",
    "mapping_source",
    "replace_at",
    "seal",
    "trim",
    "walk",
]

Ref = Union["Node", bytes, None]
"""A child link: a loaded node, the raw CID of a node not yet loaded, or no subtree."""

BlockSource = Callable[[bytes], "bytes | None"]
"""Returns the block bytes for a raw CID, or None when the block is not available."""

_LINK_HEAD = b"\xd8\x2a\x58\x25\x00"
"""DAG-CBOR tag 42, byte string of 37, multibase identity prefix: what precedes a link's CID."""
_NULL = b"\xf6"


class Node:
    """One MST node. Treated as immutable once built, except that a raw-CID child may be swapped
    for its loaded `Node` (same content, so the swap is invisible)."""

    __slots__ = ("base", "canonical", "cid", "data", "gaps", "keys", "layer", "vals")

    def __init__(
        self,
        layer: int,
        keys: list[bytes],
        vals: list[bytes],
        gaps: list[Ref],
        cid: bytes | None = None,
        data: bytes | None = None,
        base: Node | None = None,
        canonical: bool = False,
    ) -> None:
        self.layer = layer
        self.keys = keys
        self.vals = vals
        self.gaps = gaps
        self.cid = cid
        self.data = data
        self.base = base
        """The loaded node this one was copied from with the same `keys` and `vals` lists and
        only child links changed; `seal` then patches the links into `base.data`."""
        self.canonical = canonical
        """`data` is exactly what `encode_node_raw` writes (decoded prefixes were canonical)."""


def _incomplete(what: str) -> InvalidMst:
    return InvalidMst(f"partial MST lacks a node needed to {what}", reason="mst_incomplete")


def load(parent: Node, index: int, source: BlockSource) -> Node | None:
    """The child in `parent.gaps[index]`, loading and caching it if needed."""
    ref = parent.gaps[index]
    if ref is None or isinstance(ref, Node):
        return ref
    child = _load_block(ref, parent.layer - 1, source)
    parent.gaps[index] = child
    return child


def _load_block(cid: bytes, layer: int, source: BlockSource) -> Node:
    data = source(cid)
    if data is None:
        raise _incomplete("walk the tree")
    keys, vals, gaps, found, canonical = decode_node_fields(data, False)
    if found is None:
        if gaps[0] is None:
            raise InvalidMst("empty MST node below the root", reason="bad_node")
    elif found != layer:
        raise InvalidMst(f"MST node at layer {found} where {layer} belongs", reason="bad_node")
    if layer < 0 or (layer == 0 and gaps.count(None) != len(gaps)):
        raise InvalidMst("MST subtree below layer 0", reason="bad_node")
    # The lists are fresh from the decoder and owned by this node from here on.
    return Node(layer, keys, vals, gaps, cid, data, None, canonical)  # type: ignore[arg-type]


def empty_root() -> Node:
    """The root of a tree with no keys (the only node allowed to be empty without a child)."""
    return Node(0, [], [], [None])


def load_root(cid: bytes, source: BlockSource, *, strict: bool = True) -> Node:
    """Load a root node; its layer comes from its keys, since nothing sits above it.

    Raises:
        InvalidMst: ``mst_incomplete`` if the root block is missing; ``bad_node`` if malformed
            or if the root is an entry-less node above a subtree (not canonical).
    """
    data = source(cid)
    if data is None:
        raise _incomplete("read the root")
    keys, vals, gaps, layer, canonical = decode_node_fields(data, strict)
    if layer is None:
        if gaps[0] is not None:
            raise InvalidMst("MST root has no entries but a subtree", reason="bad_node")
        return Node(0, [], [], [None], cid, data)
    if layer == 0 and gaps.count(None) != len(gaps):
        raise InvalidMst("MST subtree below layer 0", reason="bad_node")
    return Node(layer, keys, vals, gaps, cid, data, None, canonical)  # type: ignore[arg-type]


def get(root: Node, key: bytes, source: BlockSource, height: int | None = None) -> bytes | None:
    """The value CID stored under `key`, or None if the key is absent (`height`: the key's, if known)."""
    if height is None:
        height = key_height_bytes(key)
    node: Node | None = root
    while node is not None:
        if node.layer < height:
            return None
        i = bisect_left(node.keys, key)
        if node.layer == height:
            if i < len(node.keys) and node.keys[i] == key:
                return node.vals[i]
            return None
        node = load(node, i, source)
    return None


def find(
    root: Node, key: bytes, source: BlockSource, height: int
) -> tuple[list[tuple[Node, int]], Node, int] | None:
    """Where `key` sits: the `(node, child index)` steps from `root` down, the node holding it
    and its index there; None if absent. Loads exactly the nodes `get` loads, in the same order,
    so it fails the same way; `replace_at` then rebuilds the path as `delete`/`insert` would."""
    if root.layer < height:
        return None
    steps: list[tuple[Node, int]] = []
    node = root
    while True:
        keys = node.keys
        i = bisect_left(keys, key)
        if node.layer == height:
            if i < len(keys) and keys[i] == key:
                return steps, node, i
            return None
        child = load(node, i, source)
        if child is None:
            return None
        steps.append((node, i))
        node = child


def replace_at(
    steps: list[tuple[Node, int]], node: Node, i: int, val: bytes | None, source: BlockSource
) -> Node:
    """A new root for a key `find` located: its value set to `val` (as `insert` does for a
    present key) or, when `val` is None, the key removed (as `delete` does, untrimmed)."""
    if val is None:
        keys, gaps = node.keys, node.gaps
        seam = _merge(gaps[i], gaps[i + 1], node.layer, source)
        new = Node(
            node.layer,
            [*keys[:i], *keys[i + 1 :]],
            [*node.vals[:i], *node.vals[i + 1 :]],
            [*gaps[:i], seam, *gaps[i + 2 :]],
        )
    else:
        vals = node.vals.copy()
        vals[i] = val
        new = Node(node.layer, node.keys, vals, node.gaps)
    for parent, j in reversed(steps):
        gaps = parent.gaps.copy()
        gaps[j] = new if new.keys or new.gaps[0] is not None else None
        new = Node(
            parent.layer,
            parent.keys,
            parent.vals,
            gaps,
            base=parent if parent.data is not None else parent.base,
        )
    return new if new.keys or new.gaps[0] is not None else empty_root()


def _make(layer: int, keys: list[bytes], vals: list[bytes], gaps: list[Ref]) -> Node | None:
    """A new node, or None when it would hold nothing at all (pruned)."""
    if not keys and gaps[0] is None:
        return None
    return Node(layer, keys, vals, gaps)


def _wrap(ref: Ref, from_layer: int, to_layer: int) -> Ref:
    """Stack entry-less nodes over `ref` so it sits at `to_layer` (the spec keeps such chains)."""
    if ref is None:
        return None
    while from_layer < to_layer:
        from_layer += 1
        ref = Node(from_layer, [], [], [ref])
    return ref


def _split(node: Node | None, key: bytes, source: BlockSource) -> tuple[Node | None, Node | None]:
    """Split a subtree into the parts below and above `key` (which it must not contain)."""
    if node is None:
        return None, None
    i = bisect_left(node.keys, key)
    lo_child, hi_child = _split(load(node, i, source), key, source) if node.layer > 0 else (None, None)
    lo = _make(node.layer, node.keys[:i], node.vals[:i], [*node.gaps[:i], lo_child])
    hi = _make(node.layer, node.keys[i:], node.vals[i:], [hi_child, *node.gaps[i + 1 :]])
    return lo, hi


def _merge(left: Ref, right: Ref, parent_layer: int, source: BlockSource) -> Ref:
    """Join two adjacent subtrees of the same layer (the inverse of `_split`)."""
    if left is None:
        return right
    if right is None:
        return left
    a = left if isinstance(left, Node) else _load_block(left, parent_layer - 1, source)
    b = right if isinstance(right, Node) else _load_block(right, parent_layer - 1, source)
    seam = _merge(a.gaps[-1], b.gaps[0], a.layer, source)
    return Node(a.layer, a.keys + b.keys, a.vals + b.vals, [*a.gaps[:-1], seam, *b.gaps[1:]])


def insert(root: Node, key: bytes, val: bytes, source: BlockSource, height: int | None = None) -> Node:
    """A new root with `key` set to `val` (inserted, or replaced if present)."""
    if height is None:
        height = key_height_bytes(key)
    if not root.keys and root.gaps[0] is None:
        return Node(height, [key], [val], [None, None])
    if height > root.layer:
        lo, hi = _split(root, key, source)
        return Node(
            height,
            [key],
            [val],
            [_wrap(lo, root.layer, height - 1), _wrap(hi, root.layer, height - 1)],
        )
    return _insert(root, key, height, val, source)


def _insert(node: Node, key: bytes, height: int, val: bytes, source: BlockSource) -> Node:
    keys = node.keys
    i = bisect_left(keys, key)
    if node.layer == height:
        if i < len(keys) and keys[i] == key:
            vals = node.vals.copy()
            vals[i] = val
            return Node(node.layer, keys, vals, node.gaps)
        lo, hi = _split(load(node, i, source), key, source) if height > 0 else (None, None)
        gaps = node.gaps
        return Node(
            height,
            [*keys[:i], key, *keys[i:]],
            [*node.vals[:i], val, *node.vals[i:]],
            [*gaps[:i], lo, hi, *gaps[i + 1 :]],
        )
    child = load(node, i, source)
    if child is None:
        new_child: Node = Node(height, [key], [val], [None, None])
        new_ref = _wrap(new_child, height, node.layer - 1)
    else:
        new_ref = _insert(child, key, height, val, source)
    gaps = node.gaps.copy()
    gaps[i] = new_ref
    return Node(node.layer, keys, node.vals, gaps, base=node if node.data is not None else node.base)


def delete(root: Node, key: bytes, source: BlockSource, height: int | None = None) -> Node | None:
    """A new root without `key`, or None if the key is absent.

    The result is not trimmed (it may be an entry-less node over one child) so that further
    operations keep their layer bookkeeping; call `trim` once all operations are applied.
    """
    if height is None:
        height = key_height_bytes(key)
    if height > root.layer:
        return None
    new = _delete(root, key, height, source)
    if new is None:
        return None
    return new if new.keys or new.gaps[0] is not None else empty_root()


def trim(root: Node, source: BlockSource) -> Node:
    """Drop entry-less nodes from the top of the tree, as the canonical form requires.

    NOTE: if the next node down is not available its CID becomes the root unexamined. In a
    canonical previous tree that node was the root, so it cannot be entry-less; this is the
    case indigo once failed as "can not prune top of tree: MST is not complete".
    """
    node = root
    while not node.keys and node.gaps[0] is not None:
        ref = node.gaps[0]
        if isinstance(ref, bytes) and source(ref) is None:
            return Node(node.layer - 1, [], [], [None], ref, None)
        child = load(node, 0, source)
        assert child is not None
        node = child
    return node


def _delete(node: Node, key: bytes, height: int, source: BlockSource) -> Node | None:
    """`node` without `key`; None if absent. May return an entry-less, child-less node (caller prunes)."""
    keys = node.keys
    i = bisect_left(keys, key)
    if node.layer == height:
        if i >= len(keys) or keys[i] != key:
            return None
        gaps = node.gaps
        seam = _merge(gaps[i], gaps[i + 1], node.layer, source)
        return Node(
            node.layer,
            [*keys[:i], *keys[i + 1 :]],
            [*node.vals[:i], *node.vals[i + 1 :]],
            [*gaps[:i], seam, *gaps[i + 2 :]],
        )
    child = load(node, i, source)
    if child is None:
        return None
    new_child = _delete(child, key, height, source)
    if new_child is None:
        return None
    gaps = node.gaps.copy()
    gaps[i] = new_child if new_child.keys or new_child.gaps[0] is not None else None
    return Node(node.layer, keys, node.vals, gaps, base=node if node.data is not None else node.base)


def seal(node: Node, sink: dict[bytes, bytes] | None = None) -> bytes:
    """Encode and hash every node not yet hashed under `node`; return `node`'s raw CID.

    New blocks are added to `sink` when given. Untouched subtrees keep their CIDs and are
    neither re-encoded nor walked.
    """
    if node.cid is not None:
        return node.cid
    gaps: list[bytes | None] = []
    for ref in node.gaps:
        if isinstance(ref, Node):
            gaps.append(seal(ref, sink))
        else:
            gaps.append(ref)
    base = node.base
    data = None
    if base is not None and base.canonical and base.keys is node.keys and base.vals is node.vals:
        data = _patch_links(base, gaps)
    if data is None:
        data = encode_node_raw(node.keys, node.vals, gaps)
    cid = CID_PREFIX + sha256(data).digest()
    node.cid = cid
    node.data = data
    node.canonical = True
    if sink is not None:
        sink[cid] = data
    return cid


def _patch_links(base: Node, gaps: list[bytes | None]) -> bytes | None:
    """`base.data` with its child links replaced by `gaps`, or None if that cannot be done
    by byte substitution.

    A link is 36 bytes wherever it sits, so swapping one CID for another inside a canonical
    block gives exactly the canonical block of the changed node. A link that disappears (a
    subtree emptied by the undo) is its tag-42 head and CID turned into CBOR null in place:
    map and array heads count items, not bytes, so nothing else changes. A link that appears
    would have to replace one null among several, and a CID that occurs more than once in the
    block could be the wrong occurrence: both fall back to encoding.
    """
    data = base.data
    assert data is not None
    for old_ref, new in zip(base.gaps, gaps, strict=True):
        old = old_ref.cid if isinstance(old_ref, Node) else old_ref
        if old != new:
            if old is None or data.count(old) != 1:
                return None
            if new is None:
                data = data.replace(_LINK_HEAD + old, _NULL)
            else:
                data = data.replace(old, new)
    return data


def build(items: list[tuple[bytes, bytes]]) -> Node:
    """Build the canonical tree for sorted, unique `(key, value)` pairs."""
    if not items:
        return empty_root()
    heights = [key_height_bytes(k) for k, _ in items]
    top = max(heights)

    def sub(lo: int, hi: int, layer: int) -> Ref:
        if lo >= hi:
            return None
        at = [j for j in range(lo, hi) if heights[j] == layer]
        if not at:
            return _wrap(sub(lo, hi, layer - 1), layer - 1, layer)
        gaps: list[Ref] = [sub(lo, at[0], layer - 1)]
        for n, j in enumerate(at):
            end = at[n + 1] if n + 1 < len(at) else hi
            gaps.append(sub(j + 1, end, layer - 1))
        return Node(layer, [items[j][0] for j in at], [items[j][1] for j in at], gaps)

    root = sub(0, len(items), top)
    assert isinstance(root, Node)
    return root


def walk(root: Node, source: BlockSource) -> Iterator[tuple[bytes, bytes]]:
    """Yield every `(key, value)` in key order, loading nodes as needed."""
    for i in range(len(root.keys) + 1):
        child = load(root, i, source)
        if child is not None:
            yield from walk(child, source)
        if i < len(root.keys):
            yield root.keys[i], root.vals[i]


def mapping_source(blocks: Mapping[bytes, bytes]) -> BlockSource:
    """A `BlockSource` over a raw-CID-keyed mapping."""
    return blocks.get


def cover(node: Node, key: bytes, source: BlockSource, out: set[bytes]) -> None:
    """Add to `out` the CIDs of the nodes proving `key`'s place: its search path to layer 0 and,
    where the key sits in a node, the facing edges of both neighbouring subtrees."""
    assert node.cid is not None, "seal the tree first"
    out.add(node.cid)
    i = bisect_left(node.keys, key)
    hit = i < len(node.keys) and node.keys[i] == key
    for j in (i, i + 1) if hit else (i,):
        child = load(node, j, source)
        if child is not None:
            cover(child, key, source, out)
