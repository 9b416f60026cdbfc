"""One simulated account's repository: a real MST, signed v3 commits, sync v1.1 `#commit` bodies.

`SimRepo` produces event bodies the way `@atproto/pds` does (genesis commit with `since: null`,
no `prevData` and no ops, then a `#sync` of that same commit; later commits carry the MST proof
blocks and `prevData`), plus broken variants built from the same state. Building a broken commit
never advances the repo, so the chain stays valid for a relay that drops it.

Bodies come without `seq`: the host assigns it when it sends the frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import coincurve
from relay_core.car import write_car
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import Commit, encode_commit, unsigned_commit_bytes
from relay_core.firehose.limits import MAX_BLOCKS_BYTES, MAX_COMMIT_OPS
from relay_core.keys import CURVE_ORDERS, Curve
from relay_core.mst import Mst
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid, tid_from_time

from tools.netsim.broken import BrokenKind

__all__ = ["COLLECTIONS", "PreparedEvent", "RevClock", "Signer", "SimRepo", "now_iso"]

COLLECTIONS: Final = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow")
_REBUILD_EVERY_COMMITS: Final = 64
_K256_ORDER: Final = CURVE_ORDERS[Curve.K256]


def now_iso() -> str:
    """The current time as an atproto datetime (`...T12:00:00.000Z`)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event body ready to be sequenced by its host (everything but `seq`)."""

    type: str
    """Frame type: `#commit`, `#sync`, `#identity` or `#account`."""
    did: str
    body: dict[str, Any]
    rev: str | None = None
    broken: BrokenKind | None = None
    """None for a good event, else the defect it carries."""


class RevClock:
    """Strictly increasing TIDs for one process, so every repo's revs increase with no per-repo
    bookkeeping. The clock id separates processes that share a wall clock."""

    __slots__ = ("_clock_id", "_last_us")

    def __init__(self, clock_id: int = 0) -> None:
        self._clock_id = clock_id & 0x3FF
        self._last_us = 0

    def next(self) -> Tid:
        now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 1)
        return tid_from_time(self._last_us, self._clock_id)


class Signer:
    """A secp256k1 signing key kept as a live libsecp256k1 object.

    `relay_core.keys.PrivateKey.sign` rebuilds the library key on every call (about 70 µs);
    the simulator signs on its hot path, so it holds the object (about 33 µs per signature).
    """

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        self._key = coincurve.PrivateKey(secret)

    def sign(self, data: bytes) -> bytes:
        """64-byte compact low-S signature over SHA-256(data)."""
        sig: bytes = self._key.sign_recoverable(data)[:64]
        return sig


def _signed(did: Did, data: Cid, rev: Tid, signer: Signer) -> Commit:
    unsigned = Commit(did=did, version=3, data=data, rev=rev, prev=None, sig=b"\0" * 64)
    return Commit(
        did=did, version=3, data=data, rev=rev, prev=None, sig=signer.sign(unsigned_commit_bytes(unsigned))
    )


def _high_s(sig: bytes) -> bytes:
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (_K256_ORDER - s).to_bytes(32, "big")


def _record(collection: str, n: int, created_at: str) -> dict[str, Any]:
    if collection == "app.bsky.feed.post":
        return {"$type": collection, "text": f"simulated post {n}", "createdAt": created_at}
    subject = f"did:plc:{n:024d}"
    if collection == "app.bsky.graph.follow":
        return {"$type": collection, "subject": subject, "createdAt": created_at}
    return {
        "$type": collection,
        "subject": {
            "uri": f"at://{subject}/app.bsky.feed.post/3k{n:011d}"[:70],
            "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        },
        "createdAt": created_at,
    }


@dataclass(slots=True)
class SimRepo:
    """Mutable state of one account's repo and identity on its host."""

    index: int
    """Account number in the PLC directory's seeded population (keys derive from it)."""
    did: Did
    handle: str
    signer: Signer
    signing_key: str
    """did:key of `signer` (what the DID document currently lists)."""
    tree: Mst = field(default_factory=Mst.empty)
    records: dict[str, Cid] = field(default_factory=dict)
    """path → record CID (the tree's contents, kept flat for picking update/delete targets)."""
    rev: Tid | None = None
    head: Cid | None = None
    """CID of the current signed commit (None before the genesis commit)."""
    rotations: int = 0
    """Signing-key rotations so far (`plc_directory.signing_key_for(seed, index, rotations)`)."""
    active: bool = True
    status: str | None = None
    commits_since_rebuild: int = 0
    record_counter: int = 0

    @property
    def created(self) -> bool:
        return self.head is not None

    @property
    def collections(self) -> list[str]:
        return sorted({path.partition("/")[0] for path in self.records})

    def _advance(self, tree: Mst, commit: Commit, commit_cid: Cid) -> None:
        self.tree = tree
        self.rev = commit.rev
        self.head = commit_cid
        self.commits_since_rebuild += 1
        if self.commits_since_rebuild >= _REBUILD_EVERY_COMMITS:
            # Every version shares one block store, which would grow forever; a rebuild from the
            # current items yields the same root with only the live nodes.
            self.tree = Mst.from_items(self.records.items())
            self.commits_since_rebuild = 0

    def genesis(self, clock: RevClock) -> list[PreparedEvent]:
        """Account creation as `@atproto/pds` sequences it: #identity, #account, #commit, #sync."""
        time = now_iso()
        commit = _signed(self.did, self.tree.root, clock.next(), self.signer)
        commit_block = encode_commit(commit)
        commit_cid = Cid.for_dag_cbor(commit_block)
        blocks = {commit_cid: commit_block, **self.tree.node_blocks()}
        self._advance(self.tree, commit, commit_cid)
        rev = str(commit.rev)
        return [
            PreparedEvent("#identity", self.did, {"did": self.did, "time": time, "handle": self.handle}),
            PreparedEvent("#account", self.did, {"did": self.did, "time": time, "active": True}),
            PreparedEvent(
                "#commit",
                self.did,
                {
                    "repo": self.did,
                    "rev": rev,
                    "since": None,
                    "commit": commit_cid,
                    "blocks": write_car([commit_cid], blocks),
                    "ops": [],
                    "blobs": [],
                    "time": time,
                    "tooBig": False,
                    "rebase": False,
                },
                rev,
            ),
            PreparedEvent(
                "#sync",
                self.did,
                {
                    "did": self.did,
                    "rev": rev,
                    "blocks": write_car([commit_cid], {commit_cid: commit_block}),
                    "time": time,
                },
                rev,
            ),
        ]

    def mutate(
        self,
        rng: random.Random,
        clock: RevClock,
        *,
        max_records: int = 64,
        broken: BrokenKind | None = None,
        wrong_signer: Signer | None = None,
    ) -> PreparedEvent:
        """One `#commit` with one record op: create, update or delete, chosen by `rng`.

        With `broken` set, the commit carries that defect and the repo does not advance.

        Args:
            rng: picks the op and its target.
            clock: source of the new rev.
            max_records: above this many records, deletes are preferred (keeps repos small).
            broken: the defect to build in (commit kinds only; frame kinds are applied by the host).
            wrong_signer: the key used for `WRONG_KEY`.
        """
        assert self.head is not None and self.rev is not None, "genesis first"
        time = now_iso()
        roll = rng.random()
        paths = (
            list(self.records) if self.records and (roll < 0.35 or len(self.records) >= max_records) else []
        )
        tree = self.tree
        ops: list[dict[str, Any]] = []
        extra_blocks: dict[Cid, bytes] = {}
        if paths and (roll < 0.15 or len(self.records) >= max_records):
            path = rng.choice(paths)
            prev = self.records[path]
            tree = tree.delete(path)
            ops.append({"action": "delete", "path": path, "cid": None, "prev": prev})
        else:
            self.record_counter += 1
            if paths:
                path = rng.choice(paths)
                collection = path.partition("/")[0]
                action, prev_cid = "update", self.records[path]
            else:
                collection = rng.choice(COLLECTIONS)
                path = f"{collection}/{clock.next()}"
                action, prev_cid = "create", None
            block = encode_dag_cbor(_record(collection, self.record_counter, time))
            cid = Cid.for_dag_cbor(block)
            tree = tree.set(path, cid)
            extra_blocks[cid] = block
            op: dict[str, Any] = {"action": action, "path": path, "cid": cid}
            if prev_cid is not None:
                op["prev"] = prev_cid
            ops.append(op)
        return self._commit(tree, ops, extra_blocks, clock, time, broken, wrong_signer)

    def _commit(
        self,
        tree: Mst,
        ops: list[dict[str, Any]],
        extra_blocks: dict[Cid, bytes],
        clock: RevClock,
        time: str,
        broken: BrokenKind | None,
        wrong_signer: Signer | None,
    ) -> PreparedEvent:
        assert self.head is not None and self.rev is not None
        prev_data = self.tree.root
        since: str | None = str(self.rev)
        rev = clock.next()
        if broken is BrokenKind.REV_ROLLBACK:
            rev = tid_from_time(max(self.rev.timestamp_us - 1_000_000, 0), 0)
            since = None
        elif broken is BrokenKind.FUTURE_REV:
            rev = tid_from_time(rev.timestamp_us + 3600 * 1_000_000, rev.clock_id)
        data = tree.root
        signer = wrong_signer if broken is BrokenKind.WRONG_KEY and wrong_signer is not None else self.signer
        commit = _signed(self.did, data, rev, signer)
        if broken is BrokenKind.HIGH_S:
            commit = _with_sig(commit, _high_s(commit.sig))
        elif broken is BrokenKind.FORGED_SIGNATURE:
            commit = _with_sig(commit, commit.sig[:16] + bytes((commit.sig[16] ^ 0x01,)) + commit.sig[17:])
        commit_block = encode_commit(commit)
        commit_cid = Cid.for_dag_cbor(commit_block)
        blocks: dict[Cid, bytes] = {commit_cid: commit_block}
        for cid, block in extra_blocks.items():
            blocks[cid] = block + b"\x00" if broken is BrokenKind.BAD_CID else block
        blocks.update(tree.proof_blocks([op["path"] for op in ops]))
        car = write_car([commit_cid], blocks)
        if broken is BrokenKind.OVERSIZED:
            car = car + b"\x00" * (MAX_BLOCKS_BYTES + 1 - len(car))
        if broken is BrokenKind.TOO_MANY_OPS:
            ops = ops * (MAX_COMMIT_OPS + 1)
        body: dict[str, Any] = {
            "repo": self.did,
            "rev": str(rev),
            "since": since,
            "commit": commit_cid,
            "blocks": car,
            "ops": ops,
            "blobs": [],
            "time": time,
            "tooBig": False,
            "rebase": False,
            "prevData": Cid.for_raw(b"not the previous tree")
            if broken is BrokenKind.PREV_DATA_BREAK
            else prev_data,
        }
        if broken is None:
            for op in ops:
                if op["action"] == "delete":
                    del self.records[op["path"]]
                else:
                    self.records[op["path"]] = op["cid"]
            self._advance(tree, commit, commit_cid)
        return PreparedEvent("#commit", self.did, body, str(rev), broken)

    def identity_change(self, handle: str) -> PreparedEvent:
        """An `#identity` after the DID document changed (the caller updates the PLC first)."""
        self.handle = handle
        return PreparedEvent("#identity", self.did, {"did": self.did, "time": now_iso(), "handle": handle})

    def account_change(self, active: bool, status: str | None) -> PreparedEvent:
        """An `#account` status change (e.g. deactivated, then active again)."""
        self.active, self.status = active, status
        body: dict[str, Any] = {"did": self.did, "time": now_iso(), "active": active}
        if status is not None:
            body["status"] = status
        return PreparedEvent("#account", self.did, body)

    def broken_identity(self) -> PreparedEvent:
        body = {"did": self.did, "time": now_iso(), "handle": "not a handle!"}
        return PreparedEvent("#identity", self.did, body, broken=BrokenKind.BAD_HANDLE)

    def broken_account(self) -> PreparedEvent:
        body = {"did": self.did, "time": now_iso(), "active": False, "status": "bogus-status"}
        return PreparedEvent("#account", self.did, body, broken=BrokenKind.BAD_ACCOUNT_STATUS)


def _with_sig(commit: Commit, sig: bytes) -> Commit:
    return Commit(
        did=commit.did, version=commit.version, data=commit.data, rev=commit.rev, prev=commit.prev, sig=sig
    )
