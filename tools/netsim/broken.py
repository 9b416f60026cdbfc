"""The deliberately broken events the simulator mixes in, and what a relay must say about each.

Every kind names one defect and the `reason` label the relay reports when it drops the event.
Where `relay_core` detects the defect on its own, the reason is the core error's `reason` (so a
test can assert it exactly). Kinds that need stored state (rev order, seq order) are caught by the
relay's own bookkeeping; their reasons are the labels that bookkeeping is expected to use.

A broken event never advances the simulated repo: the next good commit chains from the last good
one, so a relay that drops every broken event sees an unbroken chain.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["COMMIT_KINDS", "EXPECTED_REASON", "FRAME_KINDS", "BrokenKind"]


class BrokenKind(StrEnum):
    FORGED_SIGNATURE = "forged_signature"
    """A byte of the signature's `r` flipped: well-formed, low-S, does not verify."""
    HIGH_S = "high_s"
    """A valid signature with `s` replaced by `n - s` (malleable form atproto forbids)."""
    WRONG_KEY = "wrong_key"
    """Signed correctly, but by a key that is not the DID's signing key."""
    REV_ROLLBACK = "rev_rollback"
    """A well-signed commit whose rev is older than the repo's current rev."""
    FUTURE_REV = "future_rev"
    """A well-signed commit whose rev is an hour ahead of the clock."""
    PREV_DATA_BREAK = "prev_data_break"
    """`prevData` names a tree the ops do not invert to."""
    BAD_CID = "bad_cid"
    """A record block whose bytes do not hash to the CID it is stored under."""
    OVERSIZED = "oversized"
    """`blocks` one byte over the lexicon's 2,000,000-byte limit."""
    TOO_MANY_OPS = "too_many_ops"
    """201 ops, one over the lexicon's limit."""
    TRUNCATED_CBOR = "truncated_cbor"
    """A frame cut short in the middle of its body."""
    SEQ_NOT_INCREASING = "seq_not_increasing"
    """A valid commit sent under the previous frame's seq."""
    BAD_ACCOUNT_STATUS = "bad_account_status"
    """An `#account` event with a status outside the lexicon's known values."""
    BAD_HANDLE = "bad_handle"
    """An `#identity` event whose handle is not handle syntax."""


EXPECTED_REASON: Final[dict[BrokenKind, str]] = {
    BrokenKind.FORGED_SIGNATURE: "signature_mismatch",
    BrokenKind.HIGH_S: "high_s",
    BrokenKind.WRONG_KEY: "signature_mismatch",
    BrokenKind.REV_ROLLBACK: "rev_not_increasing",
    BrokenKind.FUTURE_REV: "future_rev",
    BrokenKind.PREV_DATA_BREAK: "broken_chain",
    BrokenKind.BAD_CID: "cid_mismatch",
    BrokenKind.OVERSIZED: "blocks_too_big",
    BrokenKind.TOO_MANY_OPS: "too_many_ops",
    BrokenKind.TRUNCATED_CBOR: "bad_frame_cbor",
    BrokenKind.SEQ_NOT_INCREASING: "seq_not_increasing",
    BrokenKind.BAD_ACCOUNT_STATUS: "bad_account_status",
    BrokenKind.BAD_HANDLE: "bad_handle",
}
"""The drop reason a relay should report for each kind (relay_core's `reason` where it has one)."""

FRAME_KINDS: Final = frozenset((BrokenKind.TRUNCATED_CBOR, BrokenKind.SEQ_NOT_INCREASING))
"""Defects applied to the frame (bytes or seq) rather than the event body."""

COMMIT_KINDS: Final = tuple(
    k for k in BrokenKind if k not in (BrokenKind.BAD_ACCOUNT_STATUS, BrokenKind.BAD_HANDLE)
)
"""Kinds carried by a `#commit` (frame kinds wrap an otherwise valid commit)."""
