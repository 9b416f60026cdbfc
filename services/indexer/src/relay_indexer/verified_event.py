"""The indexer's view of a verified event: just what the indexes need, as frozen dataclasses.

The VERIFIED stream carries protobuf `VerifiedEvent`s; `verified_stream` converts them at the
boundary, so nothing past it sees protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from relay_core.syntax import Did, Nsid

from relay_indexer.account import AccountStatus

__all__ = [
    "AccountEvent",
    "CommitEvent",
    "IdentityEvent",
    "IndexedEvent",
    "OpAction",
    "RecordOp",
    "SyncEvent",
]


class OpAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class RecordOp:
    """One op of a commit, reduced to what the collection directory needs."""

    action: OpAction
    collection: Nsid


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitEvent:
    """A verified #commit. `since` is empty for the repo's first commit."""

    did: Did
    host: str
    rev: str
    since: str
    ops: tuple[RecordOp, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncEvent:
    """A verified #sync: the repo was reset to a new commit, with no ops to say what changed."""

    did: Did
    host: str
    rev: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityEvent:
    """A verified #identity. `handle` is None unless the validator confirmed it."""

    did: Did
    host: str
    handle: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountEvent:
    """A verified #account: the PDS's word on the account's hosting status."""

    did: Did
    host: str
    status: AccountStatus
    relay_made: bool = False
    """Published by the relay itself (an operator's takedown or its reversal), not by a PDS: it
    announces a local status already stored through SetAccountLocalStatus, so it must not be
    recorded as the PDS's word."""


IndexedEvent = CommitEvent | SyncEvent | IdentityEvent | AccountEvent
