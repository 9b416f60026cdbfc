"""One simulated account on its host: a `relay_core.builders.AccountBuilder` that emits events the
way `@atproto/pds` does, plus what the simulator tracks about the account.

Account creation is #identity, #account, the genesis #commit (`since: null`, no `prevData`, no
ops) and a #sync of that commit; later commits carry one record op, the MST proof blocks and
`prevData`. Broken variants come from `relay_core.builders.broken` and never advance the repo, so
the chain stays valid for a relay that drops them. What stays here is the simulator's part: which
op a commit makes and on what record, and the ledger label (`BrokenKind`) an event carries.

Bodies come without `seq`: the host assigns it when it sends the frame.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from relay_core.builders import (
    AccountBuilder,
    BuiltCommit,
    CommitSigner,
    RecordWrite,
    Signer,
    TidClock,
    broken as defects,
    now_iso,
)
from relay_core.cid import Cid
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid

from tools.netsim.broken import BrokenKind

__all__ = ["COLLECTIONS", "PreparedEvent", "RevClock", "Signer", "SimRepo"]

COLLECTIONS: Final = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow")

RevClock = TidClock
"""One per process, shared by its repos: every repo's revs increase with no per-repo bookkeeping."""

_BODY_DEFECTS: Final[dict[BrokenKind, Callable[[BuiltCommit], dict[str, Any]]]] = {
    BrokenKind.FORGED_SIGNATURE: defects.forged_signature,
    BrokenKind.HIGH_S: defects.high_s_signature,
    BrokenKind.PREV_DATA_BREAK: defects.prev_data_break,
    BrokenKind.BAD_CID: defects.bad_block_cid,
    BrokenKind.OVERSIZED: defects.oversized_blocks,
}
"""Kinds made by altering the body of an otherwise good one-off commit."""


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


class SimRepo(AccountBuilder):
    """One account's repo and identity on its host.

    Args:
        index: account number in the PLC directory's seeded population (keys derive from it).
        did: the account's DID.
        handle: its current handle.
        signer: its current signing key; assigning `signer` later is a key rotation (the next
            commit is signed with the new key).
        signing_key: the did:key the DID document lists, when the caller has it: checked against
            `signer`, so a repo never starts out signing with a key its document does not name.
    """

    def __init__(
        self, *, index: int, did: Did, handle: str, signer: CommitSigner, signing_key: str | None = None
    ) -> None:
        super().__init__(key=signer, did=did, handle=handle, sequenced=False)
        if signing_key is not None and signing_key != self.signing_key:
            raise ValueError(f"{did}: signing_key {signing_key} is not the signer's {self.signing_key}")
        self.index = index
        self.rotations = 0
        """Signing-key rotations so far (`plc_directory.signing_key_for(seed, index, rotations)`)."""
        self.active = True
        self.status: str | None = None
        self.record_counter = 0

    @property
    def signer(self) -> CommitSigner:
        return self.key

    @signer.setter
    def signer(self, signer: CommitSigner) -> None:
        self.key = signer

    @property
    def signing_key(self) -> str:
        """did:key of `signer` (what the DID document currently lists)."""
        return self.key.public_key.did_key()

    @signing_key.setter
    def signing_key(self, did_key: str) -> None:
        # The signer is the truth; callers that rotate by hand may restate its key, not another.
        if did_key != self.signing_key:
            raise ValueError(f"{self.did}: {did_key} is not the signer's key {self.signing_key}")

    @property
    def head(self) -> Cid | None:
        """CID of the current signed commit (None before the genesis commit)."""
        return self.commit_cid

    @property
    def created(self) -> bool:
        return self.commit_cid is not None

    @property
    def collections(self) -> list[str]:
        return sorted({path.partition("/")[0] for path in self.records})

    def genesis(self, clock: TidClock) -> list[PreparedEvent]:
        """Account creation as `@atproto/pds` sequences it: #identity, #account, #commit, #sync."""
        identity = PreparedEvent("#identity", self.did, self.identity_body())
        account = PreparedEvent("#account", self.did, self.account_body(active=True))
        built = self.commit([], rev=clock.next())
        commit = PreparedEvent("#commit", self.did, built.body, str(built.rev))
        return [identity, account, commit, self.sync()]

    def sync(self) -> PreparedEvent:
        """A `#sync` of the current commit (what a PDS sends to resync consumers)."""
        return PreparedEvent("#sync", self.did, self.sync_body(), str(self.rev))

    def mutate(
        self,
        rng: random.Random,
        clock: TidClock,
        *,
        max_records: int = 64,
        broken: BrokenKind | None = None,
        wrong_signer: CommitSigner | None = None,
    ) -> PreparedEvent:
        """One `#commit` with one record op: create, update or delete, chosen by `rng`.

        With `broken` set, the commit carries that defect and the repo does not advance.

        Args:
            rng: picks the op and its target.
            clock: source of the new rev (and of a created record's rkey).
            max_records: above this many records, deletes are preferred (keeps repos small).
            broken: the defect to build in (commit kinds only; frame kinds are applied by the host).
            wrong_signer: the key used for `WRONG_KEY` (default: a fresh random one).
        """
        assert self.rev is not None, "genesis first"
        roll = rng.random()
        full = len(self.records) >= max_records
        paths = list(self.records) if self.records and (roll < 0.35 or full) else []
        # A bad CID needs a record block to corrupt, so that kind never picks a delete.
        if paths and (roll < 0.15 or full) and broken is not BrokenKind.BAD_CID:
            collection, _, rkey = rng.choice(paths).partition("/")
            write = RecordWrite(collection, rkey, None)
        else:
            self.record_counter += 1
            if paths:
                collection, _, rkey = rng.choice(paths).partition("/")
            else:
                collection, rkey = rng.choice(COLLECTIONS), str(clock.next())
            write = RecordWrite(collection, rkey, _record(collection, self.record_counter, now_iso()))
        rev = clock.next()
        if broken is None:
            body = self.commit([write], rev=rev).body
        else:
            body = self._broken_body([write], rev, broken, wrong_signer)
        return PreparedEvent("#commit", self.did, body, body["rev"], broken)

    def _broken_body(
        self, writes: list[RecordWrite], rev: Tid, kind: BrokenKind, wrong_signer: CommitSigner | None
    ) -> dict[str, Any]:
        body_defect = _BODY_DEFECTS.get(kind)
        if body_defect is not None:
            return body_defect(self.commit(writes, rev=rev, advance=False))
        if kind is BrokenKind.WRONG_KEY:
            built = defects.wrong_key(self, writes, key=wrong_signer, rev=rev)
        elif kind is BrokenKind.REV_ROLLBACK:
            built = defects.rev_rollback(self, writes)
        elif kind is BrokenKind.FUTURE_REV:
            built = defects.future_rev(self, writes, rev=rev)
        elif kind is BrokenKind.TOO_MANY_OPS:
            built = defects.too_many_ops(self, writes=writes, rev=rev)
        else:
            # Frame kinds: the host breaks the frame of an otherwise good commit.
            built = self.commit(writes, rev=rev, advance=False)
        return built.body

    def identity_change(self, handle: str) -> PreparedEvent:
        """An `#identity` after the DID document changed (the caller updates the PLC first)."""
        self.handle = handle
        return PreparedEvent("#identity", self.did, self.identity_body())

    def account_change(self, active: bool, status: str | None) -> PreparedEvent:
        """An `#account` status change (e.g. deactivated, then active again)."""
        self.active, self.status = active, status
        return PreparedEvent("#account", self.did, self.account_body(active=active, status=status))

    def broken_identity(self) -> PreparedEvent:
        return PreparedEvent("#identity", self.did, defects.bad_handle(self), broken=BrokenKind.BAD_HANDLE)

    def broken_account(self) -> PreparedEvent:
        return PreparedEvent(
            "#account", self.did, defects.bad_account_status(self), broken=BrokenKind.BAD_ACCOUNT_STATUS
        )
