"""A reference judge: what a correct relay should conclude about each frame a host sends.

It decides with `relay_core` alone (decode, parse, verify) plus the little state a relay keeps
(per host: last seq; per repo: rev and MST root), and answers `ok` or a drop reason. Tests use it
to prove the simulator's broken events are really broken for the stated reason and its good
events really verify; it is also a yardstick to compare a relay's verdicts with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from relay_core.cid import Cid
from relay_core.errors import RelayError
from relay_core.firehose.events import AccountEvent, CommitEvent, IdentityEvent, SyncEvent, parse_event
from relay_core.firehose.frames import decode_frame
from relay_core.firehose.verify import (
    verify_account_event,
    verify_commit_event,
    verify_identity_event,
    verify_sync_event,
)
from relay_core.keys import PublicKey
from relay_core.syntax.tid import Tid, parse_tid

__all__ = ["OK", "Judge", "KeyLookup"]

OK = "ok"

KeyLookup = Callable[[str], PublicKey]
"""The DID's current signing key (from its resolved DID document)."""


@dataclass(slots=True)
class _RepoState:
    rev: Tid
    data: Cid


@dataclass(slots=True)
class Judge:
    """Judges frames in arrival order. Create one per run; feed it every host's frames."""

    signing_key: KeyLookup
    now_us: Callable[[], int]
    last_seq: dict[str, int] = field(default_factory=dict)
    repos: dict[str, _RepoState] = field(default_factory=dict)

    def judge(self, host: str, frame: bytes) -> str:
        """`ok`, or the reason the frame must be dropped. State advances only on `ok`."""
        try:
            event = parse_event(decode_frame(frame))
        except RelayError as exc:
            return exc.reason
        seq = getattr(event, "seq", None)
        if isinstance(seq, int):
            if seq <= self.last_seq.get(host, 0):
                return "seq_not_increasing"
            self.last_seq[host] = seq
        try:
            if isinstance(event, CommitEvent):
                return self._commit(event)
            if isinstance(event, SyncEvent):
                synced = verify_sync_event(
                    event, signing_key=self.signing_key(event.did), now_us=self.now_us()
                )
                state = self.repos.get(event.did)
                if state is not None and synced.rev < state.rev:
                    return "rev_not_increasing"
                self.repos[event.did] = _RepoState(synced.rev, synced.data)
            elif isinstance(event, IdentityEvent):
                verify_identity_event(event)
            elif isinstance(event, AccountEvent):
                verify_account_event(event)
        except RelayError as exc:
            return exc.reason
        return OK

    def _commit(self, event: CommitEvent) -> str:
        state = self.repos.get(event.repo)
        genesis = event.since is None and event.prev_data is None and not event.ops
        # NOTE: @atproto/pds sends the genesis commit without prevData; nothing precedes it.
        verified = verify_commit_event(
            event, signing_key=self.signing_key(event.repo), now_us=self.now_us(), strict=not genesis
        )
        if state is not None:
            if verified.rev <= state.rev:
                return "rev_not_increasing"
            if verified.prev_data != state.data:
                return "broken_chain"
        self.repos[event.repo] = _RepoState(verified.rev, verified.data)
        return OK

    @staticmethod
    def rev(text: str) -> Tid:
        return parse_tid(text)
