"""Deliberately broken events, one defect each.

Functions taking a `BuiltCommit` return a new `#commit` body and leave their input untouched, so
one good commit can seed every drop path of the validator; those taking an `AccountBuilder` build
a one-off commit (or an `#identity` / `#account` body) that never advances the account, so the
next good commit still chains from the last good one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from relay_core.builders.account import AccountBuilder, BuiltCommit, RecordWrite
from relay_core.builders.signer import CommitSigner, Signer
from relay_core.car import write_car
from relay_core.cid import Cid
from relay_core.commit import Commit, encode_commit
from relay_core.firehose.limits import MAX_BLOCKS_BYTES, MAX_COMMIT_OPS
from relay_core.keys import CURVE_ORDERS, Curve
from relay_core.syntax.tid import Tid, tid_from_time

__all__ = [
    "bad_account_status",
    "bad_block_cid",
    "bad_handle",
    "forged_signature",
    "future_rev",
    "high_s_signature",
    "oversized_blocks",
    "prev_data_break",
    "rev_rollback",
    "too_many_ops",
    "truncated_frame",
    "wrong_key",
]

_RAW_CID_LEN: Final = 36
"""CIDv1, raw codec, sha2-256: version, codec, hash code, length, 32-byte digest."""


def _with_commit(built: BuiltCommit, commit: Commit) -> dict[str, Any]:
    """The body re-pointed at a re-encoded commit (new commit CID, CAR rebuilt)."""
    block = encode_commit(commit)
    cid = Cid.for_dag_cbor(block)
    blocks = {cid: block, **{c: b for c, b in built.blocks.items() if c != built.commit_cid}}
    return {**built.body, "commit": cid, "blocks": write_car([cid], blocks)}


def forged_signature(built: BuiltCommit) -> dict[str, Any]:
    """The commit with one signature bit flipped: well-formed, does not verify."""
    sig = bytearray(built.commit.sig)
    sig[10] ^= 0x01
    return _with_commit(built, replace(built.commit, sig=bytes(sig)))


def high_s_signature(built: BuiltCommit) -> dict[str, Any]:
    """The same signature with S replaced by n - S: mathematically valid, but atproto rejects it."""
    sig = built.commit.sig
    n = CURVE_ORDERS[Curve.K256]
    s = int.from_bytes(sig[32:], "big")
    high = sig[:32] + (n - s).to_bytes(32, "big")
    return _with_commit(built, replace(built.commit, sig=high))


def wrong_key(
    account: AccountBuilder,
    writes: Sequence[RecordWrite] | None = None,
    *,
    key: CommitSigner | None = None,
    rev: Tid | None = None,
) -> BuiltCommit:
    """A one-off commit signed by another key than the account's (default: a fresh one)."""
    return account.commit(
        writes or [account.post("wrong key")], rev=rev, key=key or Signer.generate(), advance=False
    )


def rev_rollback(account: AccountBuilder, writes: Sequence[RecordWrite] | None = None) -> BuiltCommit:
    """A validly signed one-off commit whose rev is a second older than the account's last rev.

    Its `since` is null: `since` at the account's last rev would be newer than the commit's own
    rev, a defect of its own (`bad_since`) that a consumer finds before it compares revs.
    """
    if account.rev is None:
        raise ValueError("rev rollback needs a previous commit")
    older: Tid = tid_from_time(max(account.rev.timestamp_us - 1_000_000, 0))
    built = account.commit(writes or [account.post("rollback")], rev=older, advance=False)
    return replace(built, since=None, body={**built.body, "since": None})


def future_rev(
    account: AccountBuilder,
    writes: Sequence[RecordWrite] | None = None,
    *,
    rev: Tid | None = None,
    ahead_us: int = 3_600_000_000,
) -> BuiltCommit:
    """A validly signed one-off commit whose rev is `ahead_us` (default an hour) past `rev` (or now)."""
    base = rev or account.next_rev()
    ahead = tid_from_time(base.timestamp_us + ahead_us, base.clock_id)
    return account.commit(writes or [account.post("future")], rev=ahead, advance=False)


def prev_data_break(built: BuiltCommit) -> dict[str, Any]:
    """The body with `prevData` pointing at a tree the ops do not invert to."""
    return {**built.body, "prevData": Cid.for_dag_cbor(b"not the previous tree")}


def bad_block_cid(built: BuiltCommit) -> dict[str, Any]:
    """A CAR where one record block's bytes no longer hash to its CID.

    Raises:
        ValueError: the commit carries no record (only deletes).
    """
    target = next((op.cid for op in built.ops if op.cid is not None), None)
    if target is None:
        raise ValueError("a bad block CID needs a commit that writes a record")
    blocks = dict(built.blocks)
    blocks[target] = blocks[target][:-1] + bytes([blocks[target][-1] ^ 0x01])
    return {**built.body, "blocks": write_car([built.commit_cid], blocks)}


def oversized_blocks(built: BuiltCommit, size_bytes: int = MAX_BLOCKS_BYTES + 1) -> dict[str, Any]:
    """The CAR padded with one junk block to exactly `size_bytes` (default: one byte over the
    lexicon's limit), still a well-formed CAR so the size is the only defect."""
    car = write_car([built.commit_cid], built.blocks)
    # One more CAR section: varint(len(cid) + len(data)), the CID, the data.
    section = size_bytes - len(car)
    for prefix in range(1, 6):
        junk_len = section - prefix - _RAW_CID_LEN
        if junk_len >= 0 and _varint_len(_RAW_CID_LEN + junk_len) == prefix:
            break
    else:
        raise ValueError(f"no junk block makes a {len(car)}-byte CAR exactly {size_bytes} bytes")
    junk = b"\x00" * junk_len
    blocks = {**built.blocks, Cid.for_raw(junk): junk}
    return {**built.body, "blocks": write_car([built.commit_cid], blocks)}


def _varint_len(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def too_many_ops(
    account: AccountBuilder,
    count: int = MAX_COMMIT_OPS + 1,
    *,
    writes: Sequence[RecordWrite] | None = None,
    rev: Tid | None = None,
) -> BuiltCommit:
    """A validly signed one-off commit whose body lists its ops over and over, `count` in all
    (the lexicon allows 200); the commit and its blocks are those of `writes` alone."""
    built = account.commit(writes or [account.post("bulk")], rev=rev, advance=False)
    listed = built.body["ops"]
    ops = tuple(built.ops[i % len(built.ops)] for i in range(count))
    body = {**built.body, "ops": [listed[i % len(listed)] for i in range(count)]}
    return replace(built, ops=ops, body=body)


def truncated_frame(frame: bytes, keep_bytes: int | None = None) -> bytes:
    """The frame cut short mid-CBOR (default: drop the last 7 bytes)."""
    return frame[: keep_bytes if keep_bytes is not None else max(len(frame) - 7, 1)]


def bad_handle(account: AccountBuilder) -> dict[str, Any]:
    """An `#identity` body whose handle is not handle syntax."""
    return account.identity_body(handle="not a handle!")


def bad_account_status(account: AccountBuilder) -> dict[str, Any]:
    """An inactive `#account` body whose status is none the lexicon knows."""
    return account.account_body(active=False, status="bogus-status")
