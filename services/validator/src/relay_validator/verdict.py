"""What `judge` decides about one event: publish it (and maybe more), drop it, or ask for I/O.

These are plain dataclasses; the pipeline turns a `Publication` into a `VerifiedEvent` protobuf in
`verified_publisher`, so the decision logic never sees protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from relay_core.cid import Cid
from relay_core.firehose.events import RepoOp
from relay_core.syntax.did import Did

from relay_validator.account_state import AccountState, AccountStatus
from relay_validator.drop_reason import DropReason

__all__ = [
    "Accept",
    "AccountDetails",
    "AwaitIdentity",
    "CommitDetails",
    "Drop",
    "EventKind",
    "IdentityDetails",
    "Publication",
    "RefreshIdentity",
    "SyncDetails",
    "Verdict",
]


class EventKind(StrEnum):
    """Kinds of verified events (the `kind` field and subject suffix on VERIFIED)."""

    COMMIT = "commit"
    SYNC = "sync"
    IDENTITY = "identity"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class CommitDetails:
    commit_cid: Cid
    data_cid: Cid
    prev_data_cid: Cid | None
    since: str | None
    ops: tuple[RepoOp, ...]


@dataclass(frozen=True, slots=True)
class SyncDetails:
    commit_cid: Cid
    data_cid: Cid


@dataclass(frozen=True, slots=True)
class IdentityDetails:
    handle: str | None
    """The event's handle, only when the DID document confirms it."""
    handle_verified: bool


@dataclass(frozen=True, slots=True)
class AccountDetails:
    active: bool
    upstream_status: AccountStatus
    """What the PDS said (ACTIVE when active); the frame carries the relay's combined view."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """One event for VERIFIED. `derived` events (the relay's own `#account`) get their own msg id."""

    kind: EventKind
    did: Did
    frame: bytes
    """Header + body, upstream seq still in it: the firehose rewrites seq."""
    rev: str
    event_time: str
    details: CommitDetails | SyncDetails | IdentityDetails | AccountDetails
    derived: bool = False


@dataclass(frozen=True, slots=True)
class Accept:
    """Publish `publications` in order; `state` is the account's new state to cache and persist."""

    publications: tuple[Publication, ...]
    state: AccountState
    created: bool
    """The account did not exist before (counts against its host's account limit)."""
    earlier_key: bool = False
    """Verified with a key the DID had before its current one (the event predates a rotation)."""


@dataclass(frozen=True, slots=True)
class Drop:
    """Do not relay the event. A drop may still change state (a broken chain desynchronizes)."""

    reason: DropReason
    detail: str
    state: AccountState | None = None
    publications: tuple[Publication, ...] = ()


@dataclass(frozen=True, slots=True)
class RefreshIdentity:
    """The cached identity disagrees (key or PDS); judge again with a freshly resolved one, or,
    with `key_history`, with the fresh one plus the DID's earlier keys."""

    reason: DropReason
    key_history: bool = False


@dataclass(frozen=True, slots=True)
class AwaitIdentity:
    """No usable identity yet (resolver unreachable): the partition must wait, never pass."""

    detail: str


Verdict = Accept | Drop | RefreshIdentity | AwaitIdentity
