"""The atproto Merkle Search Tree: keys, node codec, persistent tree, diff, sync v1.1 inversion.

- `keys`: key height (layer) and prefix compression.
- `node`: the strict node codec.
- `engine`: copy-on-write algorithms over possibly partial trees (internal).
- `tree`: `Mst`, the persistent tree used by builders and tools.
- `inversion`: `invert_ops` / `lookup` / `proof_cids` for `#commit` verification.
- `diff`: block- and record-level differences between two trees.
"""

from __future__ import annotations

from relay_core.mst.diff import MstDiff, diff
from relay_core.mst.inversion import (
    MstOp,
    RecordOp,
    invert_ops,
    invert_ops_raw,
    lookup,
    lookup_raw,
    proof_cids,
)
from relay_core.mst.keys import MAX_KEY_BYTES, common_prefix_len, key_height, validate_key_bytes
from relay_core.mst.node import NodeData, NodeEntry, decode_node, encode_node
from relay_core.mst.tree import Mst

__all__ = [
    "MAX_KEY_BYTES",
    "Mst",
    "MstDiff",
    "MstOp",
    "NodeData",
    "NodeEntry",
    "RecordOp",
    "common_prefix_len",
    "decode_node",
    "diff",
    "encode_node",
    "invert_ops",
    "invert_ops_raw",
    "key_height",
    "lookup",
    "lookup_raw",
    "proof_cids",
    "validate_key_bytes",
]
