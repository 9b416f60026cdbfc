"""Per-event verification for a relay: everything checkable from one event plus the signing key.

Each `verify_*` states its contract in three parts (after indigo's `VerifyRepoCommit`): what it
always checks, what `strict=True` adds, and what it does not check so the caller must (chiefly
anything that needs stored state: the previous commit's `data` CID and rev, the account status,
and which key is current for the DID).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from relay_core.car import RawBlockMap, read_car_raw
from relay_core.cid import Cid
from relay_core.commit import Commit, parse_signed_commit
from relay_core.errors import (
    BrokenChain,
    InvalidCommit,
    InvalidFrame,
    InvalidMst,
    InvalidSignature,
    InvalidSyntax,
)
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import AccountEvent, CommitEvent, IdentityEvent, OpAction, RepoOp, SyncEvent
from relay_core.firehose.limits import (
    FUTURE_REV_TOLERANCE_SECONDS,
    MAX_BLOCKS_BYTES,
    MAX_COMMIT_BLOCKS,
    MAX_SYNC_BLOCKS,
    MAX_SYNC_BLOCKS_BYTES,
)
from relay_core.keys import PublicKey
from relay_core.mst import invert_ops_raw, lookup_raw
from relay_core.signatures import verify_signature
from relay_core.statuses import KNOWN_ACCOUNT_STATUSES
from relay_core.syntax.handle import parse_handle
from relay_core.syntax.tid import Tid

__all__ = [
    "KNOWN_ACCOUNT_STATUSES",
    "VerifiedCommit",
    "VerifiedSync",
    "verify_account_event",
    "verify_commit_event",
    "verify_identity_event",
    "verify_sync_event",
]

_TOLERANCE_US: Final = FUTURE_REV_TOLERANCE_SECONDS * 1_000_000
_new_cid = Cid._trusted


@dataclass(frozen=True, slots=True)
class VerifiedCommit:
    """What downstream needs from a verified `#commit`, so nobody parses it again."""

    commit_cid: Cid
    commit: Commit
    data: Cid
    """The new MST root: store it; the next commit's `prevData` must equal it."""
    rev: Tid
    signed_by: PublicKey
    """The key the signature verified with (`signing_key` or one of `earlier_keys`)."""
    prev_data: Cid | None
    """The MST root the ops were inverted to (None only for non-strict pre-1.1 events)."""
    ops: tuple[RepoOp, ...]
    blocks: Mapping[Cid, bytes]
    """Every CAR block, hash-checked (records for create/update ops are among them)."""


_make_verified_commit = trusted_constructor(VerifiedCommit)
"""Every field is already checked when it is built, so `__init__`'s per-field setattr is skipped."""


@dataclass(frozen=True, slots=True)
class VerifiedSync:
    """What downstream needs from a verified `#sync`: the new repo head."""

    commit_cid: Cid
    commit: Commit
    data: Cid
    rev: Tid
    signed_by: PublicKey


def _check_signature(
    signing_key: PublicKey, earlier_keys: Sequence[PublicKey], unsigned: bytes, sig: bytes
) -> PublicKey:
    """The first of `signing_key`, then `earlier_keys`, that verifies `sig`."""
    try:
        verify_signature(signing_key, unsigned, sig)
        return signing_key
    except InvalidSignature as exc:
        if exc.reason != "signature_mismatch" or not earlier_keys:
            raise
        mismatch = exc
    for key in earlier_keys:
        try:
            verify_signature(key, unsigned, sig)
            return key
        except InvalidSignature:
            continue
    raise mismatch


def _check_rev_time(rev: Tid, now_us: int) -> None:
    if rev.timestamp_us > now_us + _TOLERANCE_US:
        raise InvalidCommit(
            f"rev {rev} is more than {FUTURE_REV_TOLERANCE_SECONDS}s in the future", reason="future_rev"
        )


def _load_commit(
    blocks: dict[bytes, bytes], roots: list[bytes], expected: Cid | None
) -> tuple[Cid, Commit, bytes]:
    """The CAR's single root, its parsed commit, and the bytes the signature covers."""
    if len(roots) != 1:
        raise InvalidCommit(f"CAR has {len(roots)} roots, expected 1", reason="bad_car_roots")
    raw = roots[0]
    if expected is not None and raw != expected.raw:
        raise InvalidCommit(
            f"CAR root {_new_cid(raw)} is not the event's commit {expected}", reason="commit_mismatch"
        )
    block = blocks.get(raw)
    if block is None:
        raise InvalidCommit(f"commit block {_new_cid(raw)} missing from CAR", reason="missing_commit_block")
    commit, unsigned = parse_signed_commit(block)
    # The event's own `Cid` when there is one (equal, and one object less to build).
    return _new_cid(raw) if expected is None else expected, commit, unsigned


def verify_commit_event(
    evt: CommitEvent,
    *,
    signing_key: PublicKey,
    now_us: int,
    strict: bool = True,
    earlier_keys: Sequence[PublicKey] = (),
) -> VerifiedCommit:
    """Verify a `#commit` on its own: blocks, commit, signature, and the sync v1.1 chain proof.

    Always checks:
        - not a legacy `tooBig` event; `blocks` within `MAX_BLOCKS_BYTES`, at most
          `MAX_COMMIT_BLOCKS` blocks, every block's sha256 equals its CID;
        - the CAR has one root, equal to `evt.commit`, and its block is a v3 commit with
          `did == evt.repo` and `rev == evt.rev`; `since`, when set, is below `rev`;
        - `rev` is at most `FUTURE_REV_TOLERANCE_SECONDS` ahead of `now_us`;
        - the signature, against `signing_key`, else (on a mismatch) each of `earlier_keys`: keys
          the DID had when the commit was signed (`relay_core.key_history`), for a caller judging
          events from before a key rotation;
        - every create/update op's `cid` is the value at its path in the new tree, and every
          deleted path is absent;
        - when `evt.prev_data` is set: undoing the ops on the partial tree yields exactly
          `evt.prev_data` (`BrokenChain` otherwise; `InvalidMst` for missing/bad nodes).
    Strict mode adds:
        - `prevData` is required (sync v1.1), so the inversion always runs; `rebase` is false;
        - updates and deletes carry `prev` (enforced by the inversion);
        - the record block of every create/update is in the CAR.
    Does not check (the caller must):
        - that `evt.prev_data` equals the `data` CID of the last commit stored for this repo,
          and that `rev` is greater than the stored rev (use the returned `data`/`rev` next time);
        - that `signing_key` is the DID's current key, the account's status, or `seq` order;
        - record contents (a relay does not validate records against lexicons).

    Raises:
        LimitExceeded, InvalidData, CidMismatch: size limits and CAR/hash problems.
        InvalidCommit: structure/consistency (`reason` says which); BrokenChain for `prevData`.
        InvalidSignature: the signature does not verify.
        InvalidMst: the partial tree cannot be read or inverted.
    """
    if evt.too_big:
        raise InvalidCommit("legacy tooBig commit carries no diff", reason="too_big")
    if strict and evt.rebase:
        raise InvalidCommit("legacy rebase commit", reason="rebase")
    if strict and evt.prev_data is None:
        raise InvalidCommit("commit lacks prevData (sync v1.1)", reason="missing_prev_data")
    roots, blocks = read_car_raw(evt.blocks, max_bytes=MAX_BLOCKS_BYTES, max_blocks=MAX_COMMIT_BLOCKS)
    commit_cid, commit, unsigned = _load_commit(blocks, roots, evt.commit)
    if commit.did != evt.repo:
        raise InvalidCommit("commit did does not match event repo", reason="did_mismatch")
    # TIDs order and compare as their text (`Tid` is a one-field dataclass over it).
    if commit.rev.value != evt.rev.value:
        raise InvalidCommit("commit rev does not match event rev", reason="rev_mismatch")
    if evt.since is not None and not evt.since.value < evt.rev.value:
        raise InvalidCommit("event since is not below rev", reason="bad_since")
    _check_rev_time(commit.rev, now_us)
    signed_by = _check_signature(signing_key, earlier_keys, unsigned, commit.sig)

    if strict:
        for op in evt.ops:
            if op.cid is not None and op.cid.raw not in blocks:
                raise InvalidCommit(f"record block for {op.path!r} missing", reason="missing_record_block")
    if evt.prev_data is not None:
        if strict:
            for op in evt.ops:
                if op.action is not OpAction.CREATE and op.prev is None:
                    raise InvalidCommit(f"{op.action} of {op.path!r} lacks prev", reason="missing_op_prev")
        previous = invert_ops_raw(commit.data.raw, blocks, evt.ops)
        if previous != evt.prev_data.raw:
            raise BrokenChain(f"inverted ops give {_new_cid(previous)}, event prevData is {evt.prev_data}")
    else:
        for op in evt.ops:
            found = lookup_raw(commit.data.raw, blocks, op.path)
            if found != (None if op.cid is None else op.cid.raw):
                raise InvalidMst(f"op on {op.path!r} does not match the new tree", reason="op_mismatch")
    return _make_verified_commit(
        commit_cid=commit_cid,
        commit=commit,
        data=commit.data,
        rev=commit.rev,
        signed_by=signed_by,
        prev_data=evt.prev_data,
        ops=evt.ops,
        blocks=RawBlockMap(blocks),
    )


def verify_sync_event(
    evt: SyncEvent,
    *,
    signing_key: PublicKey,
    now_us: int,
    strict: bool = True,
    earlier_keys: Sequence[PublicKey] = (),
) -> VerifiedSync:
    """Verify a `#sync` (the repo's head was reset; a consumer should resync from it).

    Always checks:
        - `blocks` within `MAX_SYNC_BLOCKS_BYTES`, every block's sha256 equals its CID;
        - the CAR has one root whose block is a v3 commit with `did == evt.did` and
          `rev == evt.rev`; `rev` is at most `FUTURE_REV_TOLERANCE_SECONDS` ahead of `now_us`;
        - the signature, against `signing_key`, else (on a mismatch) each of `earlier_keys`.
    Strict mode adds:
        - the CAR holds only the commit block.
    Does not check (the caller must):
        - that `rev` is greater than the stored rev for the repo (a `#sync` may not go back);
        - that `signing_key` is the DID's current key, the account's status, or `seq` order;
        - the tree under `data` (it is not in the event; fetch the repo to rebuild state).

    Raises:
        LimitExceeded, InvalidData, CidMismatch, InvalidCommit, InvalidSignature.
    """
    roots, blocks = read_car_raw(evt.blocks, max_bytes=MAX_SYNC_BLOCKS_BYTES, max_blocks=MAX_SYNC_BLOCKS)
    commit_cid, commit, unsigned = _load_commit(blocks, roots, None)
    if strict and len(blocks) != 1:
        raise InvalidCommit(f"#sync CAR has {len(blocks)} blocks, expected 1", reason="extra_blocks")
    if commit.did != evt.did:
        raise InvalidCommit("commit did does not match event did", reason="did_mismatch")
    if str(commit.rev) != evt.rev:
        raise InvalidCommit("commit rev does not match event rev", reason="rev_mismatch")
    _check_rev_time(commit.rev, now_us)
    signed_by = _check_signature(signing_key, earlier_keys, unsigned, commit.sig)
    return VerifiedSync(
        commit_cid=commit_cid, commit=commit, data=commit.data, rev=commit.rev, signed_by=signed_by
    )


def verify_identity_event(evt: IdentityEvent, *, strict: bool = True) -> None:
    """Check an `#identity` event's own fields.

    Always checks: nothing beyond `parse_event` (DID syntax, datetime).
    Strict mode adds: `handle`, when present, has valid handle syntax.
    Does not check (the caller must): that the handle resolves to the DID or the DID document is
    current; a relay re-resolves the identity instead of trusting the event.

    Raises:
        InvalidFrame: reason `bad_handle`.
    """
    if strict and evt.handle is not None:
        try:
            parse_handle(evt.handle)
        except InvalidSyntax as exc:
            raise InvalidFrame(f"#identity handle: {exc}", reason="bad_handle") from exc


def verify_account_event(evt: AccountEvent, *, strict: bool = True) -> None:
    """Check an `#account` event's own fields.

    Always checks: nothing beyond `parse_event` (an active account with a status is odd but
    harmless, so it passes).
    Strict mode adds: `status` is one of the lexicon's known values.
    Does not check (the caller must): that the upstream host is authoritative for the DID (its
    PDS per the DID document), or whether the relay's own takedown overrides the status.

    Raises:
        InvalidFrame: reason `bad_account_status`.
    """
    if strict and evt.status is not None and evt.status not in KNOWN_ACCOUNT_STATUSES:
        raise InvalidFrame(f"unknown account status {evt.status[:32]!r}", reason="bad_account_status")
