"""Backfill jobs as the rest of the indexer sees them: kinds, states, the work items, progress.

A job is one kind of work over a list of items, walked in order and resumable from each item's
cursor: **import** copies another relay's listReposByCollection, one item per NSID; **crawl**
walks PDS hosts (listRepos, describeRepo per DID), one item per host, then the sentinel item
`PENDING_CHECKS_ITEM`, which describes every DID the index still has a pending check for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["PENDING_CHECKS_ITEM", "BackfillKind", "BackfillProgress", "ItemProgress", "JobRecord", "JobState"]

PENDING_CHECKS_ITEM: Final = "#pending-checks"
"""Crawl item settling the index's pending checks; '#' cannot start a hostname, so no clash."""


class BackfillKind(StrEnum):
    IMPORT = "import"
    CRAWL = "crawl"


class JobState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """A job row. `source` is the relay imported from; `hosts` the hosts asked for (crawl)."""

    id: int
    kind: BackfillKind
    source: str | None
    state: JobState
    hosts: tuple[str, ...]
    last_error: str | None
    created_at_us: int
    updated_at_us: int


@dataclass(slots=True, kw_only=True)
class ItemProgress:
    """One work item: an NSID (import) or a hostname (crawl); `cursor` None = not started."""

    item: str
    cursor: str | None = None
    done: bool = False
    dids_seen: int = 0
    dids_failed: int = 0
    dids_total: int = 0
    bytes_fetched: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillProgress:
    """A snapshot for callers (gRPC GetBackfillProgress)."""

    job: JobRecord
    items: tuple[ItemProgress, ...]
    dids_per_second: float
    eta_seconds: int

    @property
    def dids_done(self) -> int:
        return sum(i.dids_seen for i in self.items)

    @property
    def dids_failed(self) -> int:
        return sum(i.dids_failed for i in self.items)

    @property
    def dids_total(self) -> int:
        """Known total (crawl: hosts' account counts), at least what is done; 0 = unknown."""
        total = sum(i.dids_total for i in self.items)
        return max(total, self.dids_done) if total else 0

    @property
    def bytes_fetched(self) -> int:
        return sum(i.bytes_fetched for i in self.items)

    @property
    def items_done(self) -> int:
        return sum(1 for i in self.items if i.done)

    @property
    def last_error(self) -> str | None:
        return self.job.last_error or next((i.last_error for i in self.items if i.last_error), None)
