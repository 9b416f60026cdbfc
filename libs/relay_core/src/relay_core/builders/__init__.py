"""Builders for signed repos and firehose events: tests, benchmarks and the network simulator.

`AccountBuilder` plays a PDS for one account: it owns a signing key, a did:plc-shaped DID, an
MST and the last rev, and emits `#commit` / `#sync` / `#identity` / `#account` bodies and frames
exactly as the subscribeRepos lexicon shapes them. `broken` derives deliberately invalid variants
from a good commit, one defect each, for the validator's drop paths. `Signer` is the fast K-256
key they sign with by default (the simulator signs on its hot path).
"""

from __future__ import annotations

from relay_core.builders.account import AccountBuilder, BuiltCommit, RecordWrite, TidClock, iso_at, now_iso
from relay_core.builders.broken import (
    bad_account_status,
    bad_block_cid,
    bad_handle,
    forged_signature,
    future_rev,
    high_s_signature,
    oversized_blocks,
    prev_data_break,
    rev_rollback,
    too_many_ops,
    truncated_frame,
    wrong_key,
)
from relay_core.builders.signer import CommitSigner, Signer, signed_commit

__all__ = [
    "AccountBuilder",
    "BuiltCommit",
    "CommitSigner",
    "RecordWrite",
    "Signer",
    "TidClock",
    "bad_account_status",
    "bad_block_cid",
    "bad_handle",
    "forged_signature",
    "future_rev",
    "high_s_signature",
    "iso_at",
    "now_iso",
    "oversized_blocks",
    "prev_data_break",
    "rev_rollback",
    "signed_commit",
    "too_many_ops",
    "truncated_frame",
    "wrong_key",
]
