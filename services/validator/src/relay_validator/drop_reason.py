"""The bounded set of reasons an event is dropped: the `reason` label of every drop metric.

Core errors carry their own stable `reason` (see `relay_core.errors`); `reason_of` maps one to this
enum and falls back to the error class's default reason, so a label can never be an unbounded
string even if the core grows a reason we have not listed yet.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from relay_core.errors import RelayError

__all__ = ["DropReason", "reason_of"]


class DropReason(StrEnum):
    """Why a frame did not become a verified event."""

    # Frame and event decoding (relay_core reasons).
    BAD_RAW_FRAME = "bad_raw_frame"
    """The JetStream payload is not a `RawFrame` protobuf."""
    FRAME_TOO_BIG = "frame_too_big"
    BAD_FRAME_CBOR = "bad_frame_cbor"
    BAD_FRAME_SHAPE = "bad_frame_shape"
    BAD_FRAME_HEADER = "bad_frame_header"
    ERROR_FRAME = "error_frame"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    BAD_EVENT_FIELD = "bad_event_field"
    BLOCKS_TOO_BIG = "blocks_too_big"
    TOO_MANY_OPS = "too_many_ops"
    LEGACY_EVENT = "legacy_event"
    """`#handle`, `#tombstone`, `#migrate`: removed from the lexicon."""
    INFO_NOT_RELAYED = "info_not_relayed"
    """`#info` frames are upstream-to-us notices, never relayed."""
    # DID and identity.
    BAD_DID = "bad_did"
    BAD_DID_PLC = "bad_did_plc"
    BAD_DID_WEB = "bad_did_web"
    DID_WEB_NOT_NORMALIZED = "did_web_not_normalized"
    UNSUPPORTED_DID_METHOD = "unsupported_did_method"
    DID_TOO_LONG = "did_too_long"
    IDENTITY_NOT_FOUND = "identity_not_found"
    IDENTITY_TOMBSTONED = "identity_tombstoned"
    IDENTITY_INVALID = "identity_invalid"
    WRONG_HOST = "wrong_host"
    """The DID document (fetched fresh) names another PDS: this host may not speak for the DID."""
    HOST_ACCOUNT_LIMIT = "host_account_limit"
    """A new account on a host already at its account limit (the account is throttled)."""
    # Account status.
    ACCOUNT_TAKENDOWN = "account_takendown"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_DELETED = "account_deleted"
    ACCOUNT_THROTTLED = "account_throttled"
    ACCOUNT_DESYNCHRONIZED = "account_desynchronized"
    # Rev ordering and the sync v1.1 chain.
    REV_NOT_INCREASING = "rev_not_increasing"
    REDELIVERED_STALE = "redelivered_stale"
    """A redelivered frame already applied before a crash (its rev is at or below the stored one)."""
    SYNC_REV_ROLLBACK = "sync_rev_rollback"
    BROKEN_CHAIN = "broken_chain"
    MISSING_PREV_DATA = "missing_prev_data"
    # Commit / sync verification (relay_core reasons).
    FUTURE_REV = "future_rev"
    SIGNATURE_MISMATCH = "signature_mismatch"
    HIGH_S = "high_s"
    BAD_SIGNATURE_LENGTH = "bad_signature_length"
    SIGNATURE_OUT_OF_RANGE = "signature_out_of_range"
    CID_MISMATCH = "cid_mismatch"
    BAD_CAR = "bad_car"
    BAD_CAR_ROOTS = "bad_car_roots"
    CAR_TOO_BIG = "car_too_big"
    CAR_TOO_MANY_BLOCKS = "car_too_many_blocks"
    COMMIT_MISMATCH = "commit_mismatch"
    MISSING_COMMIT_BLOCK = "missing_commit_block"
    MISSING_RECORD_BLOCK = "missing_record_block"
    MISSING_OP_PREV = "missing_op_prev"
    DID_MISMATCH = "did_mismatch"
    REV_MISMATCH = "rev_mismatch"
    BAD_SINCE = "bad_since"
    BAD_COMMIT_CBOR = "bad_commit_cbor"
    BAD_COMMIT_FIELD = "bad_commit_field"
    BAD_COMMIT_VERSION = "bad_commit_version"
    LEGACY_COMMIT_VERSION = "legacy_commit_version"
    COMMIT_UNKNOWN_FIELD = "commit_unknown_field"
    EXTRA_BLOCKS = "extra_blocks"
    TOO_BIG = "too_big"
    REBASE = "rebase"
    OP_MISMATCH = "op_mismatch"
    MST_INCOMPLETE = "mst_incomplete"
    BAD_NODE = "bad_node"
    BAD_HANDLE = "bad_handle"
    BAD_ACCOUNT_STATUS = "bad_account_status"
    # Class defaults of relay_core.errors (used when a reason is not listed above).
    BAD_SYNTAX = "bad_syntax"
    BAD_DATA = "bad_data"
    BAD_KEY = "bad_key"
    BAD_SIGNATURE = "bad_signature"
    BAD_IDENTITY = "bad_identity"
    BAD_MST = "bad_mst"
    BAD_COMMIT = "bad_commit"
    BAD_FRAME = "bad_frame"
    LIMIT_EXCEEDED = "limit_exceeded"
    INVALID = "invalid"
    """Last resort for an error whose reason and class default are both unknown."""


_BY_VALUE: Final = {r.value: r for r in DropReason}


def reason_of(exc: RelayError) -> DropReason:
    """The bounded label for a core error: its own reason, else its class default, else INVALID."""
    return _BY_VALUE.get(exc.reason) or _BY_VALUE.get(type(exc).default_reason) or DropReason.INVALID
