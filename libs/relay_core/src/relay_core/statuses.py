"""The protocol's status vocabularies, shared by every service that stores or relays them.

`AccountStatus`: `com.atproto.sync.subscribeRepos#account` `status` known values (plus "active",
which the protocol spells `active: true`), also the `status` of getRepoStatus/listRepos.
`HostStatus`: `com.atproto.sync.defs#hostStatus` known values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["KNOWN_ACCOUNT_STATUSES", "AccountStatus", "HostStatus"]


class AccountStatus(StrEnum):
    ACTIVE = "active"
    TAKENDOWN = "takendown"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    DEACTIVATED = "deactivated"
    DESYNCHRONIZED = "desynchronized"
    THROTTLED = "throttled"


KNOWN_ACCOUNT_STATUSES: Final = frozenset(s.value for s in AccountStatus if s is not AccountStatus.ACTIVE)
"""Values an inactive `#account` event's `status` may take (strict verification refuses others)."""


class HostStatus(StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    OFFLINE = "offline"
    THROTTLED = "throttled"
    BANNED = "banned"
