"""Builders for signed repos and firehose events: tests, benchmarks and the network simulator.

`AccountBuilder` plays a PDS for one account: it owns a signing key, a did:plc-shaped DID, an
MST and the last rev, and emits `#commit` / `#sync` / `#identity` / `#account` bodies and frames
exactly as the subscribeRepos lexicon shapes them. `broken` derives deliberately invalid variants
from a good commit, one defect each, for the validator's drop paths.
"""

from __future__ import annotations

from relay_core.builders.account import AccountBuilder, BuiltCommit, RecordWrite, TidClock
from relay_core.builders.broken import (
    bad_block_cid,
    forged_signature,
    high_s_signature,
    oversized_blocks,
    prev_data_break,
    rev_rollback,
    too_many_ops,
    truncated_frame,
    wrong_key,
)

__all__ = [
    "AccountBuilder",
    "BuiltCommit",
    "RecordWrite",
    "TidClock",
    "bad_block_cid",
    "forged_signature",
    "high_s_signature",
    "oversized_blocks",
    "prev_data_break",
    "rev_rollback",
    "too_many_ops",
    "truncated_frame",
    "wrong_key",
]
