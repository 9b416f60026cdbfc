"""Deliberately broken `#commit` variants, one defect each, derived from a good `BuiltCommit`.

Each function returns a new event body (or frame bytes) and leaves its input untouched, so one
good commit can seed every drop path of the validator.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relay_core.builders.account import AccountBuilder, BuiltCommit, RecordWrite
from relay_core.car import write_car
from relay_core.cid import Cid
from relay_core.commit import Commit, encode_commit
from relay_core.keys import CURVE_ORDERS, Curve, PrivateKey
from relay_core.syntax.tid import Tid, tid_from_time

__all__ = [
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


def wrong_key(account: AccountBuilder, writes: list[RecordWrite] | None = None) -> BuiltCommit:
    """A one-off commit signed by a fresh key instead of the account's (state not advanced)."""
    return account.commit(
        writes or [account.post("wrong key")], key=PrivateKey.generate(Curve.K256), advance=False
    )


def rev_rollback(account: AccountBuilder, writes: list[RecordWrite] | None = None) -> BuiltCommit:
    """A validly signed one-off commit whose rev is older than the account's last rev."""
    if account.rev is None:
        raise ValueError("rev rollback needs a previous commit")
    older: Tid = tid_from_time(max(account.rev.timestamp_us - 1_000_000, 0))
    return account.commit(writes or [account.post("rollback")], rev=older, advance=False)


def prev_data_break(built: BuiltCommit) -> dict[str, Any]:
    """The body with `prevData` pointing at a tree the ops do not invert to."""
    return {**built.body, "prevData": Cid.for_dag_cbor(b"not the previous tree")}


def bad_block_cid(built: BuiltCommit) -> dict[str, Any]:
    """A CAR where one record block's bytes no longer hash to its CID."""
    blocks = dict(built.blocks)
    target = next(op.cid for op in built.ops if op.cid is not None)
    blocks[target] = blocks[target][:-1] + bytes([blocks[target][-1] ^ 0x01])
    return {**built.body, "blocks": write_car([built.commit_cid], blocks)}


def oversized_blocks(built: BuiltCommit, size_bytes: int = 2_000_001) -> dict[str, Any]:
    """The CAR padded with one junk block so `blocks` exceeds the lexicon's 2,000,000 bytes."""
    junk = b"\x00" * size_bytes
    blocks = {**built.blocks, Cid.for_raw(junk): junk}
    return {**built.body, "blocks": write_car([built.commit_cid], blocks)}


def too_many_ops(account: AccountBuilder, count: int = 201) -> BuiltCommit:
    """A one-off, validly signed commit with more ops than the lexicon's 200."""
    return account.commit([account.post(f"bulk {i}") for i in range(count)], advance=False)


def truncated_frame(frame: bytes, keep_bytes: int | None = None) -> bytes:
    """The frame cut short mid-CBOR (default: drop the last 7 bytes)."""
    return frame[: keep_bytes if keep_bytes is not None else max(len(frame) - 7, 1)]
