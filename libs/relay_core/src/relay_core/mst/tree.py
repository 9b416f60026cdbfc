"""`Mst`: a persistent (copy-on-write) Merkle Search Tree keyed by ``collection/rkey``.

Each update returns a new `Mst` that shares every untouched node with its parent, so keeping the
previous version around for a diff or an inversion proof costs only the touched path. All the
versions derived from one tree share a block store, which makes `blocks_for` cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from relay_core.cid import Cid
from relay_core.errors import InvalidMst
from relay_core.mst import engine
from relay_core.mst.engine import Node
from relay_core.mst.keys import validate_key_bytes

__all__ = ["Mst"]


class Mst:
    """An immutable view of one MST version; `set`/`delete` return new versions.

    Nodes not yet needed stay as CIDs and are loaded from the block store on demand, so a tree
    loaded from a large repo CAR only decodes what is touched.
    """

    __slots__ = ("_root", "_store")

    def __init__(self, root: Node, store: dict[bytes, bytes]) -> None:
        """Internal: use `empty`, `from_items` or `load`."""
        self._root = root
        self._store = store

    @classmethod
    def empty(cls) -> Mst:
        """A tree with no keys."""
        return cls(engine.empty_root(), {})

    @classmethod
    def from_items(cls, items: Iterable[tuple[str, Cid]]) -> Mst:
        """Build the canonical tree for `(key, record CID)` pairs in any order.

        Raises:
            InvalidMst: a key is malformed or appears twice.
        """
        pairs = sorted((key.encode(), cid.raw) for key, cid in items)
        for n, (key, _) in enumerate(pairs):
            validate_key_bytes(key)
            if n and pairs[n - 1][0] == key:
                raise InvalidMst(f"duplicate MST key {key!r}", reason="bad_key")
        return cls(engine.build(pairs), {})

    @classmethod
    def load(cls, root: Cid, blocks: Mapping[Cid, bytes]) -> Mst:
        """Open the tree rooted at `root` over CID-checked `blocks` (e.g. a repo CAR).

        Raises:
            InvalidMst: ``mst_incomplete`` if the root block is absent, ``bad_node`` if malformed.
        """
        store = {cid.raw: data for cid, data in blocks.items()}
        return cls(engine.load_root(root.raw, store.get), store)

    @property
    def root(self) -> Cid:
        """The root node's CID (hashing any nodes changed since the last call)."""
        return Cid.from_bytes(engine.seal(self._root, self._store))

    def get(self, key: str) -> Cid | None:
        """The record CID under `key`, or None."""
        raw = engine.get(self._root, key.encode(), self._store.get)
        return None if raw is None else Cid.from_bytes(raw)

    def set(self, key: str, value: Cid) -> Mst:
        """A new version with `key` → `value` (insert or replace)."""
        raw_key = key.encode()
        validate_key_bytes(raw_key)
        return Mst(engine.insert(self._root, raw_key, value.raw, self._store.get), self._store)

    def delete(self, key: str) -> Mst:
        """A new version without `key`.

        Raises:
            KeyError: `key` is not in the tree.
        """
        new = engine.delete(self._root, key.encode(), self._store.get)
        if new is None:
            raise KeyError(key)
        return Mst(engine.trim(new, self._store.get), self._store)

    def items(self) -> Iterator[tuple[str, Cid]]:
        """Every `(key, record CID)` in key order (loads the whole tree)."""
        for key, val in engine.walk(self._root, self._store.get):
            yield key.decode(), Cid.from_bytes(val)

    def __len__(self) -> int:
        return sum(1 for _ in engine.walk(self._root, self._store.get))

    def node_blocks(self) -> dict[Cid, bytes]:
        """Every node block of this version (walks and seals the whole tree)."""
        engine.seal(self._root, self._store)
        out: dict[Cid, bytes] = {}
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node.cid is None or node.data is None:
                continue
            out[Cid.from_bytes(node.cid)] = node.data
            for i in range(len(node.gaps)):
                child = engine.load(node, i, self._store.get)
                if child is not None:
                    stack.append(child)
        return out

    def blocks_for(self, cids: Iterable[Cid]) -> dict[Cid, bytes]:
        """The stored bytes of the given node CIDs (after sealing this version).

        Raises:
            KeyError: a CID is not a node known to this tree family.
        """
        engine.seal(self._root, self._store)
        return {cid: self._store[cid.raw] for cid in cids}

    def proof_blocks(self, paths: Iterable[str]) -> dict[Cid, bytes]:
        """Node blocks a `#commit` producing this version must carry for ops on `paths`.

        See `relay_core.mst.proof_cids`: new nodes on the touched paths plus the neighbouring
        edges a consumer needs to invert the ops.
        """
        engine.seal(self._root, self._store)
        out: set[bytes] = set()
        for path in paths:
            engine.cover(self._root, path.encode(), self._store.get, out)
        return {Cid.from_bytes(raw): self._store[raw] for raw in out}
