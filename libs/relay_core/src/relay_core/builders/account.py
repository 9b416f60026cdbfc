"""`AccountBuilder`: one simulated account producing signed commits and firehose event bodies."""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from relay_core.car import write_car
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import Commit, encode_commit, sign_commit
from relay_core.firehose.frames import encode_frame
from relay_core.keys import Curve, PrivateKey
from relay_core.mst import Mst, MstOp
from relay_core.syntax.did import Did, parse_did
from relay_core.syntax.tid import Tid, tid_from_time

__all__ = ["AccountBuilder", "BuiltCommit", "RecordWrite", "TidClock"]


class TidClock:
    """Strictly increasing TIDs from the wall clock (bumped by 1 µs on ties or clock steps back)."""

    __slots__ = ("_last_us", "clock_id")

    def __init__(self, clock_id: int = 0, start_us: int | None = None) -> None:
        self.clock_id = clock_id
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


@dataclass(frozen=True, slots=True)
class BuiltCommit:
    """A signed commit with everything a `#commit` event needs (and the parts to break it)."""

    did: Did
    commit: Commit
    commit_cid: Cid
    commit_block: bytes
    since: Tid | None
    prev_data: Cid | None
    ops: tuple[MstOp, ...]
    blocks: dict[Cid, bytes]
    """Carried blocks: commit, new/changed MST nodes plus inversion proof nodes, new records."""
    seq: int
    time: str
    body: dict[str, Any] = field(repr=False)
    """The `#commit` body as the lexicon shapes it (CIDs as `Cid`, blocks as CAR bytes)."""

    @property
    def rev(self) -> Tid:
        return self.commit.rev

    def frame(self) -> bytes:
        """The full subscribeRepos frame (header + body)."""
        return encode_frame("#commit", self.body)


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _plc_did(seed: bytes) -> Did:
    # did:plc is base32(sha256(genesis op))[:24]; here the "genesis" is just the key bytes.
    digest = base64.b32encode(hashlib.sha256(seed).digest()).decode().lower()
    return parse_did("did:plc:" + digest[:24])


class AccountBuilder:
    """A simulated PDS account: key, DID, MST, last rev; emits signed commits and events.

    Each `commit` advances the account; `BuiltCommit` carries what a consumer needs for sync
    v1.1 (`prevData`, op `prev`s, the inversion proof). `seq` comes from a shared counter so
    many accounts can interleave into one stream.
    """

    def __init__(
        self,
        *,
        key: PrivateKey | None = None,
        did: str | None = None,
        handle: str | None = None,
        pds_endpoint: str = "http://127.0.0.1:2583",
        seq: Iterator[int] | None = None,
        clock: TidClock | None = None,
    ) -> None:
        self.key = key or PrivateKey.generate(Curve.K256)
        self.did: Did = parse_did(did) if did else _plc_did(self.key.public_key.did_key().encode())
        self.handle = handle or f"u{self.did[8:16]}.test"
        self.pds_endpoint = pds_endpoint
        self.tree = Mst.empty()
        self.rev: Tid | None = None
        self.commit_cid: Cid | None = None
        self.commit_block: bytes | None = None
        self._seq = seq if seq is not None else itertools.count(1)
        self._clock = clock or TidClock()
        self._rkeys = TidClock(clock_id=1)

    def next_rkey(self) -> str:
        """A fresh TID record key."""
        return str(self._rkeys.next())

    def post(self, text: str = "hello") -> RecordWrite:
        """A create of an `app.bsky.feed.post` record with a fresh rkey."""
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": _now_iso()}
        return RecordWrite("app.bsky.feed.post", self.next_rkey(), record)

    def commit(
        self,
        writes: Sequence[RecordWrite],
        *,
        rev: Tid | None = None,
        key: PrivateKey | None = None,
        advance: bool = True,
    ) -> BuiltCommit:
        """Apply `writes`, sign a commit and build its `#commit` event.

        Args:
            writes: record creates/updates (a record) and deletes (None).
            rev: force a rev (e.g. a rollback); defaults to the clock's next TID.
            key: sign with another key (e.g. the wrong one); defaults to the account key.
            advance: keep the new state (False builds a one-off commit off the current state).
        """
        old = self.tree
        new = old
        ops: list[MstOp] = []
        records: dict[Cid, bytes] = {}
        for w in writes:
            prev = old.get(w.path)
            if w.record is None:
                new = new.delete(w.path)
                ops.append(MstOp(path=w.path, cid=None, prev=prev))
                continue
            block = encode_dag_cbor(w.record)
            cid = Cid.for_dag_cbor(block)
            records[cid] = block
            new = new.set(w.path, cid)
            ops.append(MstOp(path=w.path, cid=cid, prev=prev))
        data = new.root
        this_rev = rev or self._clock.next()
        commit = sign_commit(did=self.did, data=data, rev=this_rev, prev=None, key=key or self.key)
        commit_block = encode_commit(commit)
        commit_cid = Cid.for_dag_cbor(commit_block)
        blocks: dict[Cid, bytes] = {commit_cid: commit_block}
        blocks.update(new.proof_blocks(op.path for op in ops))
        blocks.update(records)
        prev_data = old.root if self.rev is not None else None
        built = self._built(commit, commit_cid, commit_block, prev_data, tuple(ops), blocks)
        if advance:
            self.tree, self.rev = new, this_rev
            self.commit_cid, self.commit_block = commit_cid, commit_block
        return built

    def _built(
        self,
        commit: Commit,
        commit_cid: Cid,
        commit_block: bytes,
        prev_data: Cid | None,
        ops: tuple[MstOp, ...],
        blocks: dict[Cid, bytes],
    ) -> BuiltCommit:
        seq = next(self._seq)
        now = _now_iso()
        body: dict[str, Any] = {
            "repo": self.did,
            "rev": str(commit.rev),
            "since": None if self.rev is None else str(self.rev),
            "commit": commit_cid,
            "blocks": write_car([commit_cid], blocks),
            "ops": [_op_json(op) for op in ops],
            "time": now,
            "seq": seq,
            "rebase": False,
            "tooBig": False,
            "blobs": [],
        }
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

    def sync_body(self) -> dict[str, Any]:
        """A `#sync` body: the current commit in a CAR holding only the commit block."""
        if self.commit_cid is None or self.commit_block is None or self.rev is None:
            raise ValueError("no commit yet")
        return {
            "seq": next(self._seq),
            "did": self.did,
            "blocks": write_car([self.commit_cid], {self.commit_cid: self.commit_block}),
            "rev": str(self.rev),
            "time": _now_iso(),
        }

    def identity_body(self) -> dict[str, Any]:
        """An `#identity` body announcing the current handle."""
        return {"seq": next(self._seq), "did": self.did, "time": _now_iso(), "handle": self.handle}

    def account_body(self, *, active: bool = True, status: str | None = None) -> dict[str, Any]:
        """An `#account` body; `status` (e.g. ``deactivated``, ``takendown``) only when inactive."""
        body: dict[str, Any] = {"seq": next(self._seq), "did": self.did, "time": _now_iso(), "active": active}
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
