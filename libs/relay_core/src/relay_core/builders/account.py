"""`AccountBuilder`: one simulated account producing signed commits and firehose event bodies."""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from relay_core.builders.signer import CommitSigner, Signer, signed_commit
from relay_core.car import write_car
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import Commit, encode_commit
from relay_core.firehose.frames import encode_frame
from relay_core.mst import Mst, MstOp
from relay_core.syntax.did import Did, parse_did
from relay_core.syntax.tid import MAX_CLOCK_ID, Tid, tid_from_time

__all__ = ["AccountBuilder", "BuiltCommit", "RecordWrite", "TidClock", "iso_at", "now_iso"]

_REBUILD_EVERY_COMMITS: Final = 64


class TidClock:
    """Strictly increasing TIDs from the wall clock (bumped by 1 µs on ties or clock steps back).

    One clock shared by many accounts keeps every account's revs increasing with no per-account
    bookkeeping; `clock_id` (wrapped into a TID's 10 bits) separates processes that share a wall
    clock.
    """

    __slots__ = ("_last_us", "clock_id")

    def __init__(self, clock_id: int = 0, start_us: int | None = None) -> None:
        self.clock_id = clock_id & MAX_CLOCK_ID
        self._last_us = (start_us if start_us is not None else time.time_ns() // 1000) - 1

    def next(self) -> Tid:
        """A TID greater than every one this clock returned before."""
        self._last_us = max(self._last_us + 1, time.time_ns() // 1000)
        return tid_from_time(self._last_us, self.clock_id)


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """One record change to commit: a record value creates/updates, None deletes."""

    collection: str
    rkey: str
    record: dict[str, Any] | None

    @property
    def path(self) -> str:
        return f"{self.collection}/{self.rkey}"


@dataclass(slots=True)
class BuiltCommit:
    """A signed commit with everything a `#commit` event needs (and the parts to break it).

    Not frozen: a frozen dataclass's `__init__` sets each field through `object.__setattr__`,
    which cost 1.4% of the simulator's instructions per event; the builders only `replace` one.
    """

    did: Did
    commit: Commit
    commit_cid: Cid
    commit_block: bytes
    since: Tid | None
    prev_data: Cid | None
    ops: tuple[MstOp, ...]
    blocks: dict[Cid, bytes]
    """Carried blocks: commit, new/changed MST nodes plus inversion proof nodes, new records."""
    seq: int | None
    """None when the account is not `sequenced` (its host assigns seq when it sends)."""
    time: str
    body: dict[str, Any] = field(repr=False)
    """The `#commit` body as the lexicon shapes it (CIDs as `Cid`, blocks as CAR bytes)."""

    @property
    def rev(self) -> Tid:
        return self.commit.rev

    def frame(self) -> bytes:
        """The full subscribeRepos frame (header + body)."""
        return encode_frame("#commit", self.body)


_second_text: tuple[int, str] = (-1, "")
"""The last whole second formatted, and its text: every event has a time, most in the same second."""


def now_iso() -> str:
    """The current time as an atproto datetime (`...T12:00:00.000Z`)."""
    global _second_text
    ms = time.time_ns() // 1_000_000
    second, text = _second_text
    if ms // 1000 != second:
        second = ms // 1000
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_text = (second, text)
    return f"{text}.{ms % 1000:03d}Z"


def iso_at(epoch_us: int) -> str:
    """`epoch_us` as an atproto datetime with milliseconds (`...T12:00:00.000Z`)."""
    ms = epoch_us // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _plc_did(seed: bytes) -> Did:
    # did:plc is base32(sha256(genesis op))[:24]; here the "genesis" is just the key bytes.
    digest = base64.b32encode(hashlib.sha256(seed).digest()).decode().lower()
    return parse_did("did:plc:" + digest[:24])


class AccountBuilder:
    """A simulated PDS account: key, DID, MST, last rev; emits signed commits and events.

    Each `commit` advances the account; `BuiltCommit` carries what a consumer needs for sync
    v1.1 (`prevData`, op `prev`s, the inversion proof). `seq` comes from a shared counter so
    many accounts can interleave into one stream; an account that is not `sequenced` leaves
    `seq` out of its bodies for the host that sends them to fill in.

    Args:
        key: the signing key; `key` may be replaced later (a rotation), and the next commit is
            signed with the new one. Defaults to a fresh K-256 `Signer`.
        did: defaults to a did:plc-shaped DID derived from the key.
        handle: defaults to `u<part of the DID>.test`.
        pds_endpoint: the `#atproto_pds` service in `did_document`.
        seq: where `seq` values come from (default: 1, 2, 3, ...).
        clock: source of revs when `commit` is given none.
        sequenced: False leaves `seq` out of every body.
    """

    def __init__(
        self,
        *,
        key: CommitSigner | None = None,
        did: str | None = None,
        handle: str | None = None,
        pds_endpoint: str = "http://127.0.0.1:2583",
        seq: Iterator[int] | None = None,
        clock: TidClock | None = None,
        sequenced: bool = True,
    ) -> None:
        self.key: CommitSigner = key if key is not None else Signer.generate()
        self.did: Did = parse_did(did) if did else _plc_did(self.key.public_key.did_key().encode())
        self.handle = handle or f"u{self.did[8:16]}.test"
        self.pds_endpoint = pds_endpoint
        self.tree = Mst.empty()
        self.records: dict[str, Cid] = {}
        """path → record CID: the tree's contents, kept flat so callers can pick targets cheaply."""
        self.rev: Tid | None = None
        self.commit_cid: Cid | None = None
        self.commit_block: bytes | None = None
        self._seq = seq if seq is not None else itertools.count(1)
        self._sequenced = sequenced
        self._clock = clock or TidClock()
        self._rkeys = TidClock(clock_id=1)
        self._commits_since_rebuild = 0

    def next_rkey(self) -> str:
        """A fresh TID record key."""
        return str(self._rkeys.next())

    def next_rev(self) -> Tid:
        """The rev the next `commit` without an explicit `rev` would get."""
        return self._clock.next()

    def post(self, text: str = "hello") -> RecordWrite:
        """A create of an `app.bsky.feed.post` record with a fresh rkey."""
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": now_iso()}
        return RecordWrite("app.bsky.feed.post", self.next_rkey(), record)

    def commit(
        self,
        writes: Sequence[RecordWrite],
        *,
        rev: Tid | None = None,
        key: CommitSigner | None = None,
        advance: bool = True,
    ) -> BuiltCommit:
        """Apply `writes`, sign a commit and build its `#commit` event.

        The account's first commit carries every node of its tree (all of them are new) and no
        `prevData`, as `@atproto/pds` sends a repo's genesis commit.

        Args:
            writes: record creates/updates (a record) and deletes (None); none for a genesis.
            rev: force a rev (e.g. a rollback); defaults to the clock's next TID.
            key: sign with another key (e.g. the wrong one); defaults to the account key.
            advance: keep the new state (False builds a one-off commit off the current state).
        """
        old = self.tree
        new = old
        ops: list[MstOp] = []
        records: dict[Cid, bytes] = {}
        for w in writes:
            path = w.path
            prev = self.records.get(path)
            if w.record is None:
                new = new.delete(path)
                ops.append(MstOp(path=path, cid=None, prev=prev))
                continue
            block = encode_dag_cbor(w.record)
            cid = Cid.for_dag_cbor(block)
            records[cid] = block
            new = new.set(path, cid)
            ops.append(MstOp(path=path, cid=cid, prev=prev))
        this_rev = rev or self._clock.next()
        commit = signed_commit(self.did, new.root, this_rev, key or self.key)
        commit_block = encode_commit(commit)
        commit_cid = Cid.for_dag_cbor(commit_block)
        blocks: dict[Cid, bytes] = {commit_cid: commit_block}
        if self.rev is None:
            blocks.update(new.node_blocks())
        else:
            blocks.update(new.proof_blocks(op.path for op in ops))
        blocks.update(records)
        prev_data = old.root if self.rev is not None else None
        built = self._built(commit, commit_cid, commit_block, prev_data, tuple(ops), blocks)
        if advance:
            self._advance(new, ops, this_rev, commit_cid, commit_block)
        return built

    def _advance(self, tree: Mst, ops: list[MstOp], rev: Tid, commit_cid: Cid, commit_block: bytes) -> None:
        for op in ops:
            if op.cid is None:
                del self.records[op.path]
            else:
                self.records[op.path] = op.cid
        self.tree, self.rev = tree, rev
        self.commit_cid, self.commit_block = commit_cid, commit_block
        self._commits_since_rebuild += 1
        if self._commits_since_rebuild >= _REBUILD_EVERY_COMMITS:
            # Every version of a tree shares one block store, which would grow for as long as the
            # account commits; a rebuild from the live items has the same root and only live nodes.
            self.tree = Mst.from_items(self.records.items())
            self._commits_since_rebuild = 0

    def _seq_field(self) -> dict[str, int]:
        return {"seq": next(self._seq)} if self._sequenced else {}

    def _built(
        self,
        commit: Commit,
        commit_cid: Cid,
        commit_block: bytes,
        prev_data: Cid | None,
        ops: tuple[MstOp, ...],
        blocks: dict[Cid, bytes],
    ) -> BuiltCommit:
        now = now_iso()
        body: dict[str, Any] = {
            "repo": self.did,
            "rev": str(commit.rev),
            "since": None if self.rev is None else str(self.rev),
            "commit": commit_cid,
            "blocks": write_car([commit_cid], blocks),
            "ops": [_op_json(op) for op in ops],
            "time": now,
            "rebase": False,
            "tooBig": False,
            "blobs": [],
        }
        seq = next(self._seq) if self._sequenced else None
        if seq is not None:
            body["seq"] = seq
        if prev_data is not None:
            body["prevData"] = prev_data
        return BuiltCommit(
            did=self.did,
            commit=commit,
            commit_cid=commit_cid,
            commit_block=commit_block,
            since=self.rev,
            prev_data=prev_data,
            ops=ops,
            blocks=blocks,
            seq=seq,
            time=now,
            body=body,
        )

    def sync_body(self, *, rev: Tid | None = None) -> dict[str, Any]:
        """A `#sync` body: the current commit in a CAR holding only the commit block.

        Args:
            rev: announce the current tree at another rev (a commit re-signed for it, e.g. an
                older one for a rollback); the account's state does not change.
        """
        if self.commit_cid is None or self.commit_block is None or self.rev is None:
            raise ValueError("no commit yet")
        cid, block = self.commit_cid, self.commit_block
        if rev is not None and rev != self.rev:
            block = encode_commit(signed_commit(self.did, self.tree.root, rev, self.key))
            cid = Cid.for_dag_cbor(block)
        return {
            **self._seq_field(),
            "did": self.did,
            "blocks": write_car([cid], {cid: block}),
            "rev": str(rev or self.rev),
            "time": now_iso(),
        }

    def identity_body(self, *, handle: str | None = None) -> dict[str, Any]:
        """An `#identity` body announcing the current handle (or `handle`, which may be invalid)."""
        return {
            **self._seq_field(),
            "did": self.did,
            "time": now_iso(),
            "handle": self.handle if handle is None else handle,
        }

    def account_body(self, *, active: bool = True, status: str | None = None) -> dict[str, Any]:
        """An `#account` body; `status` (e.g. ``deactivated``, ``takendown``) only when inactive."""
        body: dict[str, Any] = {**self._seq_field(), "did": self.did, "time": now_iso(), "active": active}
        if status is not None:
            body["status"] = status
        return body

    def did_document(self) -> dict[str, Any]:
        """The account's DID document: `#atproto` Multikey and `#atproto_pds` service."""
        return {
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
            ],
            "id": self.did,
            "alsoKnownAs": [f"at://{self.handle}"],
            "verificationMethod": [
                {
                    "id": f"{self.did}#atproto",
                    "type": "Multikey",
                    "controller": self.did,
                    "publicKeyMultibase": self.key.public_key.multibase(),
                }
            ],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.pds_endpoint,
                }
            ],
        }


def _op_json(op: MstOp) -> dict[str, Any]:
    action = "create" if op.prev is None else ("delete" if op.cid is None else "update")
    out: dict[str, Any] = {"action": action, "path": op.path, "cid": op.cid}
    if op.prev is not None:
        out["prev"] = op.prev
    return out
