"""Account moderation: takedown, its reversal, and the account's status as the relay serves it.

A takedown is two steps, in this order:

1. the indexer stores ``local_status = takendown`` (durable: the validator drops the account's
   later commits, the indexer hides it from ``listReposByCollection``, restarts remember it);
2. admin announces ``#account {active: false, status: "takendown"}`` on VERIFIED, so every
   firehose replica hides the account's events from that seq on, live and on replay.

If step 2 fails the operator gets UNAVAILABLE naming NATS and repeats the call: both steps are
safe to repeat. The optional replay scrub (firehose ``ScrubAccount``) is best-effort: its failure
is reported in the answer, not raised, because the takedown itself has already happened.

A reversal stores ``local_status = active`` and announces the account's *upstream* view (what
its PDS last said: usually ``active: true``), so the relay goes back to serving what the PDS says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import grpc
from relay_core.syntax import Did
from relay_proto.firehose.v1 import firehose_pb2
from relay_proto.indexer.v1 import indexer_pb2
from relay_proto.types.v1 import types_pb2

from relay_admin.account_event import AccountAnnouncement, AccountAnnouncer
from relay_admin.errors import NotFound, PeerError, Refused
from relay_admin.hostname import parse_account_did
from relay_admin.peers import Peers

__all__ = ["AccountOperations", "Reversal", "Takedown", "upstream_announcement"]

logger = logging.getLogger(__name__)

_TAKENDOWN: Final = types_pb2.ACCOUNT_STATUS_TAKENDOWN
_ACTIVE: Final = types_pb2.ACCOUNT_STATUS_ACTIVE
_REVERSIBLE: Final = frozenset({types_pb2.ACCOUNT_STATUS_TAKENDOWN, types_pb2.ACCOUNT_STATUS_SUSPENDED})


@dataclass(frozen=True, slots=True)
class Takedown:
    account: indexer_pb2.Account
    event_seq: int
    events_scrubbed: int
    scrub_error: str


@dataclass(frozen=True, slots=True)
class Reversal:
    account: indexer_pb2.Account
    event_seq: int


def upstream_announcement(account: indexer_pb2.Account) -> AccountAnnouncement:
    """What the account's PDS last said about it, as an ``#account`` announcement.

    An account never described by an ``#account`` event (upstream UNSPECIFIED) is active.
    """
    upstream = account.upstream_status
    if upstream in (types_pb2.ACCOUNT_STATUS_UNSPECIFIED, _ACTIVE):
        return AccountAnnouncement(Did(account.did), active=True, status=None)
    status = types_pb2.AccountStatus.Name(upstream).removeprefix("ACCOUNT_STATUS_").lower()
    return AccountAnnouncement(Did(account.did), active=False, status=status)


class AccountOperations:
    """Takedowns over the indexer (durable status), VERIFIED (announcement), firehose (scrub)."""

    def __init__(self, peers: Peers, announcer: AccountAnnouncer) -> None:
        self._peers = peers
        self._announcer = announcer

    async def status(self, raw_did: str) -> indexer_pb2.Account:
        did = parse_account_did(raw_did)
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.GetAccounts,
            indexer_pb2.GetAccountsRequest(dids=[did]),
            indexer_pb2.GetAccountsResponse,
        )
        if not reply.accounts:
            raise NotFound(f"unknown account {did}: the relay has seen no event for it")
        return reply.accounts[0]

    async def takedown(self, raw_did: str, reason: str, *, scrub_replay: bool) -> Takedown:
        did = parse_account_did(raw_did)
        account = await self._set_local_status(did, _TAKENDOWN, reason.strip() or "taken down by an operator")
        seq = await self._announcer.announce(AccountAnnouncement(did, active=False, status="takendown"))
        scrubbed, scrub_error = 0, ""
        if scrub_replay:
            try:
                reply = await self._peers.call(
                    "firehose",
                    self._peers.firehose.ScrubAccount,
                    firehose_pb2.ScrubAccountRequest(did=did),
                    firehose_pb2.ScrubAccountResponse,
                )
                scrubbed = reply.events_scrubbed
            except PeerError as exc:
                scrub_error = str(exc)
                logger.warning("replay scrub failed", extra={"did": did, "error": scrub_error})
        logger.info("account taken down", extra={"did": did, "seq": seq, "events_scrubbed": scrubbed})
        return Takedown(account, seq, scrubbed, scrub_error)

    async def reverse(self, raw_did: str) -> Reversal:
        """Lift a takedown (or suspension).

        Raises:
            NotFound: the relay does not know the account.
            Refused: the account is not taken down.
        """
        current = await self.status(raw_did)
        if current.local_status not in _REVERSIBLE:
            name = types_pb2.AccountStatus.Name(current.local_status)
            raise Refused(f"{current.did} is not taken down (local status {name})")
        did = Did(current.did)
        account = await self._set_local_status(did, _ACTIVE, "takedown reversed by an operator")
        seq = await self._announcer.announce(upstream_announcement(account))
        logger.info("account takedown reversed", extra={"did": did, "seq": seq})
        return Reversal(account, seq)

    async def _set_local_status(
        self, did: Did, status: types_pb2.AccountStatus.ValueType, reason: str
    ) -> indexer_pb2.Account:
        try:
            reply = await self._peers.call(
                "indexer",
                self._peers.indexer.SetAccountLocalStatus,
                indexer_pb2.SetAccountLocalStatusRequest(did=did, local_status=status, reason=reason),
                indexer_pb2.SetAccountLocalStatusResponse,
            )
        except PeerError as exc:
            if exc.code is grpc.StatusCode.NOT_FOUND:
                raise NotFound(str(exc)) from exc
            raise
        return reply.account
