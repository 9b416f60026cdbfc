"""Typed `subscribeRepos` events, parsed strictly from frame bodies per the lexicon.

`parse_event` turns a decoded `Frame` into one frozen dataclass per message type. It checks field
presence, types, string formats (DID, TID, datetime, NSID/record-key paths) and lexicon length
limits, and nothing cryptographic: `relay_core.firehose.verify` does that.

NOTE: for optional (non-nullable) fields such as `prevData` and `repoOp.prev`, an explicit null
is read as "absent". The lexicon does not allow it, but Go's and TypeScript's encoders have both
emitted it at times, and it carries no different meaning; everything else is exact.

`#handle`, `#tombstone` and `#migrate` were removed from the lexicon; they are recognised as a
`LegacyEvent` so callers can count and drop them by name rather than as garbage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from relay_core.cbor import (
    _BLESSED_PREFIXES,
    _CID_LEADS,
    _Ambiguous,
    _ipld_decode,
    _ipld_decode_multi,
    _ipld_encode,
    _lift,
)
from relay_core.cid import Cid
from relay_core.errors import InvalidFrame, InvalidSyntax, LimitExceeded
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.frames import Frame, decode_frame, encode_frame, frame_from_objects
from relay_core.firehose.limits import (
    MAX_BLOCKS_BYTES,
    MAX_COMMIT_OPS,
    MAX_FRAME_BYTES,
    MAX_OP_PATH_LENGTH,
    MAX_SYNC_BLOCKS_BYTES,
)
from relay_core.syntax.datetime import Datetime, parse_datetime
from relay_core.syntax.did import DID_PLAIN_PATTERN, MAX_DID_LENGTH, Did, parse_did
from relay_core.syntax.nsid import MAX_NSID_LENGTH, NSID_PATTERN, parse_nsid
from relay_core.syntax.record_key import RECORD_KEY_PATTERN, parse_record_key
from relay_core.syntax.tid import TID_PATTERN, Tid, parse_tid

__all__ = [
    "LEGACY_EVENT_TYPES",
    "AccountEvent",
    "CommitEvent",
    "Event",
    "decode_event",
    "IdentityEvent",
    "InfoEvent",
    "LegacyEvent",
    "OpAction",
    "RepoOp",
    "SyncEvent",
    "encode_event",
    "event_body",
    "parse_event",
]

LEGACY_EVENT_TYPES: Final = frozenset(("#handle", "#tombstone", "#migrate"))


class OpAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_ACTIONS: Final = {action.value: action for action in OpAction}
_OP_PATH_RE: Final = re.compile(NSID_PATTERN + "/" + RECORD_KEY_PATTERN)
_OP_PATH_FULLMATCH: Final = _OP_PATH_RE.fullmatch
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class RepoOp:
    """One record mutation. create: cid set; update: cid set (+prev); delete: cid None (+prev)."""

    action: OpAction
    path: str
    """`collection/rkey`, both parts syntax-checked."""
    cid: Cid | None
    prev: Cid | None
    """The record's previous CID (sync v1.1; required for update/delete in strict verification)."""


@dataclass(frozen=True, slots=True)
class CommitEvent:
    seq: int
    repo: Did
    rev: Tid
    since: Tid | None
    commit: Cid
    blocks: bytes
    """The CAR diff, kept as raw bytes (never round-trip it through a CBOR encoder)."""
    ops: tuple[RepoOp, ...]
    blobs: tuple[Cid, ...]
    prev_data: Cid | None
    """MST root before this commit (sync v1.1); None from pre-1.1 hosts."""
    time: Datetime
    too_big: bool
    """Legacy: the diff was omitted. Verification rejects these."""
    rebase: bool
    """Legacy, unused since sync v1.1."""

    def __reduce__(self) -> tuple[Callable[..., CommitEvent], tuple[Any, ...]]:
        # Pickled flat (raw bytes and strings, no nested objects) for the validator's verify
        # workers: ~1.5 µs to pickle and ~3 to rebuild, against ~11 to decode the frame again.
        ops = tuple(
            (
                op.action.value,
                op.path,
                None if op.cid is None else op.cid.raw,
                None if op.prev is None else op.prev.raw,
            )
            for op in self.ops
        )
        return _commit_from_pickle, (
            self.seq,
            self.repo,
            self.rev.value,
            None if self.since is None else self.since.value,
            self.commit.raw,
            self.blocks,
            ops,
            tuple(blob.raw for blob in self.blobs),
            None if self.prev_data is None else self.prev_data.raw,
            self.time.raw,
            self.time.epoch_us,
            self.too_big,
            self.rebase,
        )


@dataclass(frozen=True, slots=True)
class SyncEvent:
    seq: int
    did: Did
    blocks: bytes
    """CAR holding just the signed commit block."""
    rev: str
    """Lexicon types this as a plain string; verification checks it equals the commit's TID."""
    time: Datetime

    def __reduce__(self) -> tuple[Callable[..., SyncEvent], tuple[Any, ...]]:
        return _sync_from_pickle, (
            self.seq,
            self.did,
            self.blocks,
            self.rev,
            self.time.raw,
            self.time.epoch_us,
        )


@dataclass(frozen=True, slots=True)
class IdentityEvent:
    seq: int
    did: Did
    time: Datetime
    handle: str | None


@dataclass(frozen=True, slots=True)
class AccountEvent:
    seq: int
    did: Did
    time: Datetime
    active: bool
    status: str | None
    """One of the lexicon's known values (`takendown`, `deactivated`, ...) or a future one."""


@dataclass(frozen=True, slots=True)
class InfoEvent:
    name: str
    message: str | None


@dataclass(frozen=True, slots=True)
class LegacyEvent:
    """A removed message type (`#handle`, `#tombstone`, `#migrate`), recognised only to be dropped."""

    type: str
    seq: int | None
    did: str | None


_make_repo_op = trusted_constructor(RepoOp)
_make_tid = trusted_constructor(Tid)
_TID_FULLMATCH = TID_PATTERN.fullmatch
_DID_PLAIN_FULLMATCH = DID_PLAIN_PATTERN.fullmatch
_make_commit_event = trusted_constructor(CommitEvent)
_make_sync_event = trusted_constructor(SyncEvent)
_make_datetime = trusted_constructor(Datetime)
_new_cid = Cid._trusted


def _commit_from_raw(
    seq: int,
    repo: Did,
    rev: str,
    since: str | None,
    commit: bytes,
    blocks: bytes,
    ops: tuple[RepoOp, ...],
    blobs: Iterable[bytes],
    prev_data: bytes | None,
    when: Datetime,
    too_big: bool,
    rebase: bool,
) -> CommitEvent:
    """A `CommitEvent` from checked values, TIDs as text and CIDs as raw bytes."""
    return _make_commit_event(
        seq,
        repo,
        _make_tid(rev),
        None if since is None else _make_tid(since),
        _new_cid(commit),
        blocks,
        ops,
        tuple(map(_new_cid, blobs)),
        None if prev_data is None else _new_cid(prev_data),
        when,
        too_big,
        rebase,
    )


# Pickle is only ever fed what this process family wrote itself (it is unsafe for anything else),
# so these rebuild the checked values with the trusted constructors and check nothing again.
def _commit_from_pickle(
    seq: int,
    repo: Did,
    rev: str,
    since: str | None,
    commit: bytes,
    blocks: bytes,
    ops: tuple[tuple[str, str, bytes | None, bytes | None], ...],
    blobs: tuple[bytes, ...],
    prev_data: bytes | None,
    time_raw: str,
    time_us: int,
    too_big: bool,
    rebase: bool,
) -> CommitEvent:
    repo_ops = tuple(
        _make_repo_op(
            _ACTIONS[action],
            path,
            None if cid is None else _new_cid(cid),
            None if prev is None else _new_cid(prev),
        )
        for action, path, cid, prev in ops
    )
    return _commit_from_raw(
        seq,
        repo,
        rev,
        since,
        commit,
        blocks,
        repo_ops,
        blobs,
        prev_data,
        _make_datetime(time_raw, time_us),
        too_big,
        rebase,
    )


def _sync_from_pickle(seq: int, did: Did, blocks: bytes, rev: str, time_raw: str, time_us: int) -> SyncEvent:
    return _make_sync_event(seq, did, blocks, rev, _make_datetime(time_raw, time_us))


_COMMIT_HEADER: Final = _ipld_encode({"op": 1, "t": "#commit"})
_COMMIT_HEADER_LEN: Final = len(_COMMIT_HEADER)

Event = CommitEvent | SyncEvent | IdentityEvent | AccountEvent | InfoEvent | LegacyEvent


def _bad(message: str, reason: str = "bad_event_field") -> InvalidFrame:
    return InvalidFrame(message, reason=reason)


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if type(value) is not int or value < 0:
        raise _bad(f"`{key}` must be a non-negative integer")
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if type(value) is not bool:
        raise _bad(f"`{key}` must be a boolean")
    return value


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if type(value) is not str:
        raise _bad(f"`{key}` must be a string")
    return value


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and type(value) is not str:
        raise _bad(f"`{key}` must be a string")
    return value


def _link(body: dict[str, Any], key: str) -> Cid:
    value = body.get(key)
    if type(value) is not Cid:
        raise _bad(f"`{key}` must be a CID link")
    return value


def _opt_link(body: dict[str, Any], key: str) -> Cid | None:
    value = body.get(key)
    if value is not None and type(value) is not Cid:
        raise _bad(f"`{key}` must be a CID link")
    return value


def _blocks(body: dict[str, Any], limit: int) -> bytes:
    value = body.get("blocks")
    if type(value) is not bytes:
        raise _bad("`blocks` must be bytes")
    if len(value) > limit:
        raise LimitExceeded(f"`blocks` is {len(value)} bytes, limit {limit}", reason="blocks_too_big")
    return value


def _did(body: dict[str, Any], key: str) -> Did:
    try:
        return parse_did(_str(body, key))
    except InvalidSyntax as exc:
        raise _bad(f"`{key}`: {exc}") from exc


def _time(body: dict[str, Any]) -> Datetime:
    try:
        return parse_datetime(_str(body, "time"))
    except InvalidSyntax as exc:
        raise _bad(f"`time`: {exc}") from exc


def _tid(value: str, key: str) -> Tid:
    try:
        return parse_tid(value)
    except InvalidSyntax as exc:
        raise _bad(f"`{key}`: {exc}") from exc


def _op(raw: Any) -> RepoOp:
    # Fast path for a well-formed op; anything else gets `_op_checked`'s ordered checks/errors.
    if type(raw) is dict:
        action_raw, path, prev = raw.get("action"), raw.get("path"), raw.get("prev")
        cid = raw.get("cid", _MISSING)
        if (
            type(action_raw) is str
            and (action := _ACTIONS.get(action_raw)) is not None
            and type(path) is str
            and len(path) <= MAX_OP_PATH_LENGTH
            and _OP_PATH_FULLMATCH(path) is not None
            and path.index("/") <= MAX_NSID_LENGTH
            and not path.endswith(("/.", "/.."))
            and (prev is None or type(prev) is Cid)
            and (
                (cid is None and action is OpAction.DELETE)
                or (
                    type(cid) is Cid
                    and (action is OpAction.UPDATE or (action is OpAction.CREATE and prev is None))
                )
            )
        ):
            return _make_repo_op(action, path, cid, prev)
    return _op_checked(raw)


def _op_checked(raw: Any) -> RepoOp:
    if type(raw) is not dict:
        raise _bad("repoOp must be a map")
    action_raw = _str(raw, "action")
    action = _ACTIONS.get(action_raw)
    if action is None:
        raise _bad(f"unknown repoOp action {action_raw[:32]!r}")
    path = _str(raw, "path")
    if len(path) > MAX_OP_PATH_LENGTH:
        raise _bad("repoOp path too long")
    # One match covers NSID + record key for ordinary paths; anything else gets the parsers'
    # precise errors (and their length limit on the collection).
    if (
        _OP_PATH_RE.fullmatch(path) is None
        or path.index("/") > MAX_NSID_LENGTH
        or path.endswith(("/.", "/.."))
    ):
        collection, sep, rkey = path.partition("/")
        try:
            if not sep:
                raise InvalidSyntax("path must be collection/rkey")
            parse_nsid(collection)
            parse_record_key(rkey)
        except InvalidSyntax as exc:
            raise _bad(f"repoOp path {path[:80]!r}: {exc}") from exc
    if "cid" not in raw:
        raise _bad("repoOp lacks `cid` (required, nullable)")
    cid = _opt_link(raw, "cid")
    prev = _opt_link(raw, "prev")
    if (cid is None) != (action is OpAction.DELETE):
        raise _bad(f"repoOp {action} must {'not ' if action is OpAction.DELETE else ''}have a cid")
    if action is OpAction.CREATE and prev is not None:
        raise _bad("repoOp create must not have prev")
    return _make_repo_op(action, path, cid, prev)


def _parse_commit(body: dict[str, Any]) -> CommitEvent:
    # Fast path: the same checks as `_parse_commit_checked`, inlined for the usual shape; any
    # miss goes there, which re-checks everything in order and raises the precise error.
    get = body.get
    seq, repo, rev, since, commit = get("seq"), get("repo"), get("rev"), get("since"), get("commit")
    blocks, ops_raw, blobs, prev_data = get("blocks"), get("ops"), get("blobs"), get("prevData")
    too_big, rebase = get("tooBig"), get("rebase")
    if (
        type(seq) is int
        and seq >= 0
        and type(repo) is str
        and len(repo) <= MAX_DID_LENGTH
        and _DID_PLAIN_FULLMATCH(repo) is not None
        and type(rev) is str
        and _TID_FULLMATCH(rev) is not None
        and (type(since) is str and _TID_FULLMATCH(since) is not None or (since is None and "since" in body))
        and type(commit) is Cid
        and type(blocks) is bytes
        and len(blocks) <= MAX_BLOCKS_BYTES
        and type(ops_raw) is list
        and len(ops_raw) <= MAX_COMMIT_OPS
        and type(blobs) is list
        and (prev_data is None or type(prev_data) is Cid)
        and type(too_big) is bool
        and type(rebase) is bool
        and all(type(b) is Cid for b in blobs)
    ):
        return _make_commit_event(
            seq,
            repo,
            _make_tid(rev),
            None if since is None else _make_tid(since),
            commit,
            blocks,
            tuple([_op(op) for op in ops_raw]),
            tuple(blobs),
            prev_data,
            _time(body),
            too_big,
            rebase,
        )
    return _parse_commit_checked(body)


def _parse_commit_checked(body: dict[str, Any]) -> CommitEvent:
    if "since" not in body:
        raise _bad("`since` is required (nullable)")
    since_raw = _opt_str(body, "since")
    ops_raw = body.get("ops")
    if type(ops_raw) is not list:
        raise _bad("`ops` must be an array")
    if len(ops_raw) > MAX_COMMIT_OPS:
        raise LimitExceeded(f"{len(ops_raw)} ops, limit {MAX_COMMIT_OPS}", reason="too_many_ops")
    blobs_raw = body.get("blobs")
    if type(blobs_raw) is not list or not all(type(b) is Cid for b in blobs_raw):
        raise _bad("`blobs` must be an array of CID links")
    # Positional, in field order (checked by the tests): seq, repo, rev, since, commit, blocks,
    # ops, blobs, prev_data, time, too_big, rebase.
    return _make_commit_event(
        _int(body, "seq"),
        _did(body, "repo"),
        _tid(_str(body, "rev"), "rev"),
        None if since_raw is None else _tid(since_raw, "since"),
        _link(body, "commit"),
        _blocks(body, MAX_BLOCKS_BYTES),
        tuple([_op(op) for op in ops_raw]),
        tuple(blobs_raw),
        _opt_link(body, "prevData"),
        _time(body),
        _bool(body, "tooBig"),
        _bool(body, "rebase"),
    )


def _parse_sync(body: dict[str, Any]) -> SyncEvent:
    return SyncEvent(
        seq=_int(body, "seq"),
        did=_did(body, "did"),
        blocks=_blocks(body, MAX_SYNC_BLOCKS_BYTES),
        rev=_str(body, "rev"),
        time=_time(body),
    )


def _parse_identity(body: dict[str, Any]) -> IdentityEvent:
    return IdentityEvent(
        seq=_int(body, "seq"), did=_did(body, "did"), time=_time(body), handle=_opt_str(body, "handle")
    )


def _parse_account(body: dict[str, Any]) -> AccountEvent:
    return AccountEvent(
        seq=_int(body, "seq"),
        did=_did(body, "did"),
        time=_time(body),
        active=_bool(body, "active"),
        status=_opt_str(body, "status"),
    )


def _parse_info(body: dict[str, Any]) -> InfoEvent:
    return InfoEvent(name=_str(body, "name"), message=_opt_str(body, "message"))


def _parse_legacy(t: str, body: dict[str, Any]) -> LegacyEvent:
    seq = body.get("seq")
    did = body.get("did")
    return LegacyEvent(type=t, seq=seq if type(seq) is int else None, did=did if type(did) is str else None)


_PARSERS: Final[dict[str, Callable[[dict[str, Any]], Event]]] = {
    "#commit": _parse_commit,
    "#sync": _parse_sync,
    "#identity": _parse_identity,
    "#account": _parse_account,
    "#info": _parse_info,
}


def parse_event(frame: Frame) -> Event:
    """Parse a message frame's body into its typed event.

    Raises:
        InvalidFrame: an error frame (reason `error_frame`), an unknown type (`unknown_event_type`,
            which consumers should skip, not treat as an attack), or a field that breaks the lexicon
            (`bad_event_field`).
        LimitExceeded: `blocks` or `ops` over the lexicon's maxLength.
    """
    t = frame.type
    if t is None:
        raise InvalidFrame(f"error frame: {frame.error}: {frame.message}", reason="error_frame")
    parser = _PARSERS.get(t)
    if parser is not None:
        return parser(frame.body)
    if t in LEGACY_EVENT_TYPES:
        return _parse_legacy(t, frame.body)
    raise InvalidFrame(f"unknown event type {t[:64]!r}", reason="unknown_event_type")


def decode_event(data: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Event:
    """`parse_event(decode_frame(data, max_bytes=max_bytes))` in one step: same result, same errors.

    A well-formed `#commit` is parsed straight from libipld's output (links still as raw CID
    bytes) without building a `Frame` body of `Cid` objects first. Other frames, and any
    `#commit` the fast path does not accept outright, are lifted and parsed as `decode_frame`
    would (without decoding again), or, failing that, go through the two steps themselves.

    Raises:
        As `decode_frame` and `parse_event`.
    """
    if len(data) <= max_bytes:
        if data.startswith(_COMMIT_HEADER):
            # The canonical `{op: 1, t: "#commit"}` header: the usual body is read off its bytes;
            # else decode and round-trip the body alone (libipld refuses trailing bytes, so this
            # is exactly the two-object case).
            event = _commit_bytes.commit_from_bytes(data, _COMMIT_HEADER_LEN)
            if event is not None:
                return event
            try:
                raw_body = data[_COMMIT_HEADER_LEN:]
                body = _ipld_decode(raw_body)
                event = (
                    _commit_from_ipld(body) if type(body) is dict and _ipld_encode(body) == raw_body else None
                )
            except (ValueError, RecursionError, OverflowError):
                event = None
            if event is not None:
                return event
        try:
            objs = _ipld_decode_multi(data)
            # Canonical iff re-encoding gives the input back (see `relay_core.cbor`).
            canonical = b"".join([_ipld_encode(o) for o in objs]) == data
        except (ValueError, RecursionError, OverflowError):
            canonical = False
        if canonical:
            # What `decode_dag_cbor_multi` does after its round trip, without decoding again (a
            # canonical `#commit` header is exactly `_COMMIT_HEADER`, tried above).
            try:
                lifted = [_lift(o) for o in objs]
            except _Ambiguous:
                pass
            else:
                return parse_event(frame_from_objects(lifted))
    return parse_event(decode_frame(data, max_bytes=max_bytes))


def _blessed(value: Any) -> bool:
    # What `relay_core.cbor` lifts to a `Cid` without falling back to the exact decoder.
    return type(value) is bytes and len(value) == 36 and value[:4] in _BLESSED_PREFIXES


def _commit_from_ipld(body: dict[str, Any]) -> CommitEvent | None:
    """A `#commit` from an unlifted, round-tripped body, or None unless the body is exactly the
    usual shape (known keys only, every link a blessed CID, every check of `_parse_commit`'s
    fast path passing), in which case lifting then `_parse_commit` give the same event."""
    get = body.get
    seq, repo, rev, since, commit = get("seq"), get("repo"), get("rev"), get("since"), get("commit")
    blocks, ops_raw, blobs, prev_data = get("blocks"), get("ops"), get("blobs"), get("prevData")
    too_big, rebase = get("tooBig"), get("rebase")
    if not (
        len(body) == (12 if "prevData" in body else 11)
        and type(seq) is int
        and seq >= 0
        and type(repo) is str
        and len(repo) <= MAX_DID_LENGTH
        and _DID_PLAIN_FULLMATCH(repo) is not None
        and type(rev) is str
        and _TID_FULLMATCH(rev) is not None
        and (type(since) is str and _TID_FULLMATCH(since) is not None or (since is None and "since" in body))
        and type(commit) is bytes
        and len(commit) == 36
        and commit[:4] in _BLESSED_PREFIXES
        and type(blocks) is bytes
        and len(blocks) <= MAX_BLOCKS_BYTES
        and (not blocks or blocks[0] not in _CID_LEADS)
        and type(ops_raw) is list
        and len(ops_raw) <= MAX_COMMIT_OPS
        and type(blobs) is list
        and (prev_data is None or _blessed(prev_data))
        and type(too_big) is bool
        and type(rebase) is bool
        and all([_blessed(b) for b in blobs])
    ):
        return None
    ops: list[RepoOp] = []
    for raw in ops_raw:
        if type(raw) is not dict:
            return None
        action_raw, path, prev = raw.get("action"), raw.get("path"), raw.get("prev")
        cid = raw.get("cid", _MISSING)
        if not (
            len(raw) == (4 if "prev" in raw else 3)
            and type(action_raw) is str
            and (action := _ACTIONS.get(action_raw)) is not None
            and type(path) is str
            and len(path) <= MAX_OP_PATH_LENGTH
            and _OP_PATH_FULLMATCH(path) is not None
            and path.index("/") <= MAX_NSID_LENGTH
            and not path.endswith(("/.", "/.."))
            and (prev is None or _blessed(prev))
            and (
                (cid is None and action is OpAction.DELETE)
                or (
                    _blessed(cid)
                    and (action is OpAction.UPDATE or (action is OpAction.CREATE and prev is None))
                )
            )
        ):
            return None
        ops.append(
            _make_repo_op(
                action,
                path,
                None if cid is None else _new_cid(cid),
                None if prev is None else _new_cid(prev),
            )
        )
    try:
        when = parse_datetime(raw_time) if type(raw_time := get("time")) is str else None
    except InvalidSyntax:
        return None
    if when is None:
        return None
    return _commit_from_raw(
        seq, Did(repo), rev, since, commit, blocks, tuple(ops), blobs, prev_data, when, too_big, rebase
    )


def event_body(event: Event) -> tuple[str, dict[str, Any]]:
    """The frame type and lexicon body map of an event (inverse of `parse_event`)."""
    if isinstance(event, CommitEvent):
        body: dict[str, Any] = {
            "seq": event.seq,
            "repo": event.repo,
            "rev": str(event.rev),
            "since": None if event.since is None else str(event.since),
            "commit": event.commit,
            "blocks": event.blocks,
            "ops": [_op_body(op) for op in event.ops],
            "blobs": list(event.blobs),
            "time": event.time.raw,
            "tooBig": event.too_big,
            "rebase": event.rebase,
        }
        if event.prev_data is not None:
            body["prevData"] = event.prev_data
        return "#commit", body
    if isinstance(event, SyncEvent):
        return "#sync", {
            "seq": event.seq,
            "did": event.did,
            "blocks": event.blocks,
            "rev": event.rev,
            "time": event.time.raw,
        }
    if isinstance(event, IdentityEvent):
        body = {"seq": event.seq, "did": event.did, "time": event.time.raw}
        if event.handle is not None:
            body["handle"] = event.handle
        return "#identity", body
    if isinstance(event, AccountEvent):
        body = {"seq": event.seq, "did": event.did, "time": event.time.raw, "active": event.active}
        if event.status is not None:
            body["status"] = event.status
        return "#account", body
    if isinstance(event, InfoEvent):
        body = {"name": event.name}
        if event.message is not None:
            body["message"] = event.message
        return "#info", body
    raise TypeError(f"legacy events are never re-emitted: {event!r}")


def _op_body(op: RepoOp) -> dict[str, Any]:
    body: dict[str, Any] = {"action": op.action.value, "path": op.path, "cid": op.cid}
    if op.prev is not None:
        body["prev"] = op.prev
    return body


def encode_event(event: Event) -> bytes:
    """Encode an event as a firehose frame (e.g. after the relay assigns its own `seq`)."""
    t, body = event_body(event)
    return encode_frame(t, body)


# Last, and as a module: `commit_bytes` builds the event classes defined above, and either
# module may be imported first.
from relay_core.firehose import commit_bytes as _commit_bytes  # noqa: E402
