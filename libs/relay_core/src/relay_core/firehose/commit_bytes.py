"""The usual `#commit` frame read straight off its bytes, or None.

`decode_event` tries this first. A frame body in canonical DAG-CBOR has exactly one encoding,
so the usual shape (the map keys in canonical order, minimal heads, every link a tag-42 blessed
CID, ASCII strings) can be matched byte for byte: a few compiled patterns check the structure,
the strings' syntax and the links in one pass each, and the values are sliced out. That replaces
libipld's decode, the canonical re-encode and the per-field checks on Python objects, which were
most of `decode_event`'s cost.

Why a match is the decoded body: every length-prefixed string's head is compared with the
length the pattern captured (a greedy pattern could otherwise end a string early, say a path
ending in `f` before `\\x66action`), and every other item has a fixed size, so the items the
patterns delimit are the ones a CBOR decoder would read; heads are written in minimal form only
and the keys are literal, so nothing non-canonical matches. Whatever does not match (a `time`
in another form, non-ASCII, 24 or more ops, any broken field) returns None and takes the
general path, which gives the same event or the precise error; `test_commit_bytes` compares
both over every one-byte change of real frames. This module never raises for bad input.
"""

from __future__ import annotations

import re
from typing import Final

from relay_core.cid import Cid
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import CommitEvent, OpAction, RepoOp
from relay_core.firehose.limits import MAX_BLOCKS_BYTES, MAX_OP_PATH_LENGTH
from relay_core.syntax.datetime import common_datetime
from relay_core.syntax.did import DID_PLAIN_PATTERN, MAX_DID_LENGTH
from relay_core.syntax.nsid import NSID_PATTERN
from relay_core.syntax.record_key import RECORD_KEY_PATTERN
from relay_core.syntax.tid import TID_PATTERN, Tid

__all__ = ["commit_from_bytes"]


def _text_head(n: int) -> bytes:
    """The minimal CBOR text-string head for `n` bytes (up to 65535)."""
    if n < 24:
        return bytes((0x60 + n,))
    if n < 256:
        return bytes((0x78, n))
    return b"\x79" + n.to_bytes(2, "big")


_TEXT_HEADS: Final = tuple(_text_head(n) for n in range(MAX_DID_LENGTH + 1))
"""Head by length, for the lengths a DID or an op path may have."""

# Pieces, as bytes pattern sources. Every quantifier range is written so that only minimal
# heads match (a one-byte extra head needs a value >= 24, a two-byte one >= 256, ...).
_TEXT_HEAD = rb"([\x60-\x77]|\x78[\x18-\xff]|\x79[\x01-\xff].)"
_LINK = rb"\xd8\x2a\x58\x25\x00(\x01[\x71\x55]\x12\x20.{32})"
_TID = b"(" + TID_PATTERN.pattern.encode() + b")"
_UINT = (
    rb"([\x00-\x17]|\x18[\x18-\xff]|\x19[\x01-\xff]."
    rb"|\x1a(?:[\x01-\xff].|\x00[\x01-\xff])..|\x1b(?!\x00{4}).{8})"
)
_DID = b"(" + DID_PLAIN_PATTERN.pattern.encode() + b")"
# `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form `common_datetime` takes (anything else: general path).
_TIME = rb"\x78\x18([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"

# One repoOp: `{cid, path, prev?, action}` in canonical key order. The collection runs to the
# `/` (no backtracking); the record key is matched shortest first, since what follows it starts
# with characters a record key may hold (the head check catches a key that really goes on).
_OP: Final = re.compile(
    rb"[\xa3\xa4]\x63cid(?:"
    + _LINK
    + rb"|\xf6)\x64path"
    + _TEXT_HEAD
    + rb"(([a-zA-Z0-9.-]{1,317})/"
    + RECORD_KEY_PATTERN.encode()
    + rb"?)(\x64prev(?:"
    + _LINK
    + rb"|\xf6))?\x66action\x66(create|update|delete)",
    re.DOTALL,
).match
# From `rev` to the head of `blocks` (whose bytes the patterns cannot skip by themselves).
_MIDDLE: Final = re.compile(
    rb"\x63rev\x6d"
    + _TID
    + rb"\x63seq"
    + _UINT
    + rb"\x64repo"
    + _TEXT_HEAD
    + _DID
    + rb"\x64time"
    + _TIME
    + rb"\x65blobs([\x80-\x97])((?:\xd8\x2a\x58\x25\x00\x01[\x71\x55]\x12\x20.{32})*)"
    rb"\x65since(?:\xf6|\x6d" + _TID + rb")"
    rb"\x66blocks([\x40-\x57]|\x58[\x18-\xff]|\x59[\x01-\xff].|\x5a(?:[\x01-\xff].|\x00[\x01-\xff])..)",
    re.DOTALL,
).match
# From `commit` to the end of the frame.
_TAIL: Final = re.compile(
    rb"\x66commit"
    + _LINK
    + rb"\x66rebase([\xf4\xf5])\x66tooBig([\xf4\xf5])(\x68prevData(?:"
    + _LINK
    + rb"|\xf6))?",
    re.DOTALL,
).fullmatch

_ACTIONS: Final = {b"create": OpAction.CREATE, b"update": OpAction.UPDATE, b"delete": OpAction.DELETE}
_LINK_LEN: Final = 41
"""A tag-42 link on the wire: 5 head bytes, then the 36 CID bytes."""
_CID_LEADS: Final = (0x01, 0x12)
_NSID_FULLMATCH: Final = re.compile(NSID_PATTERN.encode()).fullmatch
_NSIDS: set[bytes] = set()
"""Collections seen valid: a handful of them name nearly every record, and the NSID pattern is
the costliest check of an op (a cache, not a shortcut: only what passed the pattern is here)."""
_NSID_CACHE_SIZE: Final = 4096
_make_repo_op = trusted_constructor(RepoOp)
_make_tid = trusted_constructor(Tid)
_make_commit_event = trusted_constructor(CommitEvent)
_new_cid = Cid._trusted
_CREATE: Final = OpAction.CREATE
_UPDATE: Final = OpAction.UPDATE
_DELETE: Final = OpAction.DELETE


def commit_from_bytes(data: bytes, pos: int) -> CommitEvent | None:
    """The `CommitEvent` of the canonical body at `data[pos:]` (to the end), or None when the
    body is not of the usual shape; for a body it accepts, `_commit_from_ipld` on the decoded
    body gives an equal event."""
    # The map head (11 keys, or 12 with `prevData`), `ops` and its array head (0-23 ops).
    if data[pos + 1 : pos + 5] != b"\x63ops" or len(data) < pos + 6 or not 0x80 <= data[pos + 5] <= 0x97:
        return None
    size = data[pos]
    if size != 0xAC and size != 0xAB:
        return None
    ops: list[RepoOp] = []
    at = pos + 6
    for _ in range(data[pos + 5] - 0x80):
        m = _OP(data, at)
        if m is None:
            return None
        cid, head, path, collection, prev_key, prev, action_raw = m.groups()
        action = _ACTIONS[action_raw]
        if (
            len(path) > MAX_OP_PATH_LENGTH
            or _TEXT_HEADS[len(path)] != head
            or path.endswith((b"/.", b"/.."))
            or (data[at] == 0xA4) is (prev_key is None)
        ):
            return None
        if collection not in _NSIDS:
            if _NSID_FULLMATCH(collection) is None:
                return None
            if len(_NSIDS) < _NSID_CACHE_SIZE:
                _NSIDS.add(collection)
        if cid is None:
            if action is not _DELETE:
                return None
        elif action is _DELETE or (action is _CREATE and prev is not None):
            return None
        ops.append(
            _make_repo_op(
                action,
                path.decode(),
                None if cid is None else _new_cid(cid),
                None if prev is None else _new_cid(prev),
            )
        )
        at = m.end()
    m = _MIDDLE(data, at)
    if m is None:
        return None
    rev, seq_raw, head, repo, raw_time, blobs_head, blobs_raw, since, blocks_head = m.groups()
    if len(repo) > MAX_DID_LENGTH or _TEXT_HEADS[len(repo)] != head:
        return None
    n_blobs = blobs_head[0] - 0x80
    if len(blobs_raw) != n_blobs * _LINK_LEN:
        return None
    start = m.end()
    end = start + (blocks_head[0] - 0x40 if len(blocks_head) == 1 else int.from_bytes(blocks_head[1:], "big"))
    tail = _TAIL(data, end)
    # `prevData` is there exactly when the map has 12 keys (a null one reads as absent).
    if tail is None or end - start > MAX_BLOCKS_BYTES or (tail.group(4) is None) is (size == 0xAC):
        return None
    blocks = data[start:end]
    # A byte string with a CID's first byte is what libipld's output cannot tell from a link;
    # the general path sorts that out.
    if blocks and blocks[0] in _CID_LEADS:
        return None
    when = common_datetime(raw_time.decode())
    if when is None:
        return None
    commit, rebase, too_big, _, prev_data = tail.groups()
    return _make_commit_event(
        seq_raw[0] if len(seq_raw) == 1 else int.from_bytes(seq_raw[1:], "big"),
        repo.decode(),
        _make_tid(rev.decode()),
        None if since is None else _make_tid(since.decode()),
        _new_cid(commit),
        blocks,
        tuple(ops),
        tuple([_new_cid(blobs_raw[i + 5 : i + _LINK_LEN]) for i in range(0, len(blobs_raw), _LINK_LEN)]),
        None if prev_data is None else _new_cid(prev_data),
        when,
        too_big == b"\xf5",
        rebase == b"\xf5",
    )
