"""Accounts as the relay sees them: who hosts a repo, its statuses, and its verified head.

Two statuses are kept apart because they have different owners: `upstream_status` is what the
account's PDS last said in an #account event, `local_status` is this relay's own moderation decision.
The status the relay reports (`Account.status`) lets the local decision win, so a takedown holds even
while the PDS keeps saying "active".
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.statuses import AccountStatus
from relay_core.syntax import Did

__all__ = [
    "LOCAL_STATUSES",
    "Account",
    "AccountStatus",
    "AccountUpdate",
    "RepoHead",
    "effective_status",
    "hides_records",
]


LOCAL_STATUSES = frozenset(
    {AccountStatus.ACTIVE, AccountStatus.TAKENDOWN, AccountStatus.SUSPENDED, AccountStatus.THROTTLED}
)
"""The statuses an operator may set locally; the others only ever come from upstream."""


@dataclass(frozen=True, slots=True)
class RepoHead:
    """The last verified commit of a repo: what the next #commit must chain from."""

    rev: str
    commit_cid: str
    data_cid: str


def effective_status(
    local: AccountStatus, upstream: AccountStatus, *, desynchronized: bool = False
) -> AccountStatus:
    """The status the relay reports: a local decision beats the PDS, a broken chain beats "active"."""
    if local is not AccountStatus.ACTIVE:
        return local
    if upstream is not AccountStatus.ACTIVE:
        return upstream
    return AccountStatus.DESYNCHRONIZED if desynchronized else AccountStatus.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One row of relay account state, joined with its repo head (None before the first commit)."""

    did: Did
    host: str | None
    handle: str | None
    local_status: AccountStatus
    upstream_status: AccountStatus
    desynchronized: bool
    head: RepoHead | None
    updated_at_us: int

    @property
    def status(self) -> AccountStatus:
        return effective_status(self.local_status, self.upstream_status, desynchronized=self.desynchronized)

    @property
    def active(self) -> bool:
        return self.status is AccountStatus.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate:
    """A partial update from the validator: None fields keep what is stored."""

    did: Did
    host: str | None = None
    upstream_status: AccountStatus | None = None
    head: RepoHead | None = None
    desynchronized: bool | None = None
    """Set by the validator when the sync v1.1 chain breaks, cleared by a valid #sync."""


def hides_records(status: AccountStatus) -> bool:
    """Whether the collection directory hides the DID while the account is in `status`.

    Takedown, suspension and deactivation hide (reversibly: the entries are kept). Deletion is
    handled apart (everything is removed). Desynchronized and throttled accounts still hold their
    records, so they stay listed.
    """
    return status in (AccountStatus.TAKENDOWN, AccountStatus.SUSPENDED, AccountStatus.DEACTIVATED)
