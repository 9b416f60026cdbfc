"""Size and count limits for `com.atproto.sync.subscribeRepos` events.

Lexicon limits come from `com/atproto/sync/subscribeRepos.json`; the rest from the sync spec
(v1.1) or, where marked, are our own bounds chosen so no lexicon-valid event is refused.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "FUTURE_REV_TOLERANCE_SECONDS",
    "MAX_BLOCKS_BYTES",
    "MAX_COMMIT_BLOCKS",
    "MAX_COMMIT_OPS",
    "MAX_FRAME_BYTES",
    "MAX_OP_PATH_LENGTH",
    "MAX_SYNC_BLOCKS",
    "MAX_SYNC_BLOCKS_BYTES",
]

MAX_BLOCKS_BYTES: Final = 2_000_000
"""`#commit.blocks` maxLength (lexicon)."""

MAX_SYNC_BLOCKS_BYTES: Final = 10_000
"""`#sync.blocks` maxLength (lexicon): the CAR holds just the signed commit."""

MAX_COMMIT_OPS: Final = 200
"""`#commit.ops` maxLength (lexicon)."""

MAX_FRAME_BYTES: Final = 5_000_000
"""Largest whole frame (header + body) we decode; the sync spec's bound on a message."""

MAX_COMMIT_BLOCKS: Final = 10_000
"""Our bound on blocks in a `#commit` CAR. 200 ops touch at most a few thousand MST nodes and
records; the byte limit already bounds hashing work, this bounds per-block bookkeeping."""

MAX_SYNC_BLOCKS: Final = 8
"""Our bound on blocks in a `#sync` CAR (the spec says it carries only the commit block)."""

MAX_OP_PATH_LENGTH: Final = 1024
"""Our bound on a repoOp `path` (`collection/rkey`): above NSID (317) + `/` + record key (512)."""

FUTURE_REV_TOLERANCE_SECONDS: Final = 300
"""A commit `rev` may be at most this far ahead of our clock (sync spec: clock drift)."""
