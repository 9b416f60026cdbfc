"""The validator's decision, pure and synchronous: one event + what we know → a `Verdict`.

`judge` does no I/O. The pipeline gathers the inputs for a whole batch first (account state from
the indexer, identities from the resolver, both cached), then judges events one by one in
partition order, feeding each verdict's new state into the next event of the same account.

Rules, in order (each failure is a `Drop` with a bounded reason):

1. The DID must be one the relay can host (`parse_relay_did`).
2. Identity: a resolution failure drops the event; no answer yet (resolver unreachable) is
   `AwaitIdentity`: never pass an event whose signature could not be checked.
3. Host authority: the DID document must name the frame's host as the PDS. On a mismatch with a
   cached identity the answer is `RefreshIdentity` (that is how a migration looks); with a fresh
   one the event is dropped (`wrong_host`). A confirmed move updates the stored host.
4. A new account on a host at its account limit is throttled: its events are dropped.
5. Status: commits and syncs of taken-down, suspended, deactivated, deleted or throttled accounts
   are dropped; identity events of locally taken-down/suspended accounts too.
6. `#commit`: rev above the stored rev; `verify_commit_event` (CAR, commit, rev time, signature,
   MST inversion proof); `prevData` equal to the stored data CID. A signature mismatch with a
   cached key asks for a refresh first (key rotation); a mismatch with a fresh did:plc key asks
   for the DID's key history, and then any key the DID had around the rev's time (± the clock
   tolerance of `relay_core.key_history`) verifies: a relay behind the stream judges commits
   signed before a rotation, and the key in effect at the event's position is the one that
   counts. A broken chain drops the event and marks the account desynchronized, emitting the
   relay's `#account` (active=false, status=desynchronized) once on the transition.
7. `#sync`: verified like a commit head; its rev may equal but not go below the stored rev; it
   resets the head and clears `desynchronized`.
8. `#identity`: passed with the handle only if the DID document claims it.
9. `#account`: upstream status stored; the frame is rewritten to the relay's combined view
   (local takedown wins) when that differs.

Leaving `desynchronized`: a valid `#sync`, or a later commit whose `prevData` equals the stored
data CID again (the broken event was a one-off and the chain we relayed is intact). Either way an
`#account` with the combined status is emitted before the event, so consumers see the account
come back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from relay_core.errors import BrokenChain, InvalidSignature, InvalidSyntax, RelayError
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import AccountEvent, CommitEvent, IdentityEvent, SyncEvent, event_body
from relay_core.firehose.frames import encode_frame
from relay_core.firehose.verify import (
    VerifiedCommit,
    VerifiedSync,
    verify_account_event,
    verify_commit_event,
    verify_identity_event,
    verify_sync_event,
)
from relay_core.key_history import KEY_HISTORY_TOLERANCE_SECONDS, keys_in_effect
from relay_core.keys import PublicKey
from relay_core.syntax.did import parse_relay_did
from relay_core.syntax.tid import Tid, parse_tid

from relay_validator.account_state import (
    BLOCKING_STATUSES,
    AccountState,
    AccountStatus,
    combined_status,
    with_head,
)
from relay_validator.decode import RelayedEvent
from relay_validator.drop_reason import DropReason, reason_of
from relay_validator.identity import AccountIdentity, FailureKind, IdentityFailure
from relay_validator.precomputed import Precomputed, VerifiedHead
from relay_validator.verdict import (
    Accept,
    AccountDetails,
    AwaitIdentity,
    CommitDetails,
    Drop,
    EventKind,
    IdentityDetails,
    Publication,
    RefreshIdentity,
    SyncDetails,
    Verdict,
)

__all__ = ["Context", "event_did", "judge"]

_make_publication = trusted_constructor(Publication)
_make_commit_details = trusted_constructor(CommitDetails)
_make_accept = trusted_constructor(Accept)

_STATUS_REASONS = {
    AccountStatus.TAKENDOWN: DropReason.ACCOUNT_TAKENDOWN,
    AccountStatus.SUSPENDED: DropReason.ACCOUNT_SUSPENDED,
    AccountStatus.DELETED: DropReason.ACCOUNT_DELETED,
    AccountStatus.DEACTIVATED: DropReason.ACCOUNT_DEACTIVATED,
    AccountStatus.THROTTLED: DropReason.ACCOUNT_THROTTLED,
}
_FAILURE_REASONS = {
    FailureKind.NOT_FOUND: DropReason.IDENTITY_NOT_FOUND,
    FailureKind.TOMBSTONED: DropReason.IDENTITY_TOMBSTONED,
    FailureKind.INVALID: DropReason.IDENTITY_INVALID,
}
_LOCAL_BLOCKING = frozenset({AccountStatus.TAKENDOWN, AccountStatus.SUSPENDED})
_HISTORY_TOLERANCE_US = KEY_HISTORY_TOLERANCE_SECONDS * 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Everything `judge` needs besides the event."""

    host: str
    """Host the frame came from (lower case, as the slurper spells it)."""
    frame: bytes
    """The upstream frame as received (relayed verbatim unless a rule rewrites it)."""
    state: AccountState | None
    """Stored state, None when the indexer has never seen the DID."""
    identity: AccountIdentity | IdentityFailure | None
    """None while the resolver could not answer."""
    identity_fresh: bool
    """The identity was fetched fresh for this event (no further refresh will help)."""
    host_has_room: bool
    """The host is below its account limit (only consulted for new accounts)."""
    now_us: int
    redelivered: bool = False
    """The raw frame was delivered before (a crash or nak): stale revs are replays, not attacks."""
    precomputed: Precomputed | None = None
    """The frame's verification done ahead in a worker; used only if its inputs are judge's."""


def event_did(event: RelayedEvent) -> str:
    """The account an event is about (not yet syntax-checked for hosting)."""
    return event.repo if isinstance(event, CommitEvent) else event.did


def judge(event: RelayedEvent, ctx: Context) -> Verdict:
    """Decide about one decoded event; see the module docstring for the rules and their order."""
    try:
        did = parse_relay_did(event_did(event))
    except InvalidSyntax as exc:
        return Drop(reason_of(exc), str(exc))
    identity = ctx.identity
    if identity is None:
        return AwaitIdentity(f"no identity for {did}")
    if isinstance(identity, IdentityFailure):
        if identity.kind.retry:
            return AwaitIdentity(identity.message)
        return Drop(_FAILURE_REASONS[identity.kind], identity.message)
    if identity.pds_host != ctx.host:
        if not ctx.identity_fresh:
            return RefreshIdentity(DropReason.WRONG_HOST)
        return Drop(DropReason.WRONG_HOST, f"DID document names {identity.pds_host!r}, not {ctx.host!r}")
    state = ctx.state
    created = state is None
    if state is None:
        if not ctx.host_has_room:
            return Drop(DropReason.HOST_ACCOUNT_LIMIT, f"host {ctx.host} is at its account limit")
        state = AccountState(did=did, host=ctx.host)
    elif state.host != ctx.host:
        state = replace(state, host=ctx.host)
    if isinstance(event, CommitEvent):
        return _judge_commit(event, state, identity, ctx, created)
    if isinstance(event, SyncEvent):
        return _judge_sync(event, state, identity, ctx, created)
    if isinstance(event, IdentityEvent):
        return _judge_identity(event, state, identity, ctx, created)
    return _judge_account(event, state, ctx, created)


def _blocked(state: AccountState) -> Drop | None:
    status = state.local_status if state.local_status is not AccountStatus.ACTIVE else state.upstream_status
    if status in BLOCKING_STATUSES:
        return Drop(_STATUS_REASONS[status], f"account is {status}")
    return None


def _signature_verdict(exc: InvalidSignature, ctx: Context, identity: AccountIdentity) -> Verdict:
    if exc.reason == DropReason.SIGNATURE_MISMATCH:
        if not ctx.identity_fresh:
            return RefreshIdentity(DropReason.SIGNATURE_MISMATCH)
        if identity.key_history is None and identity.did.startswith("did:plc:"):
            return RefreshIdentity(DropReason.SIGNATURE_MISMATCH, key_history=True)
    return Drop(reason_of(exc), str(exc))


def _earlier_keys(identity: AccountIdentity, rev: Tid | str) -> list[PublicKey]:
    """Keys other than the current one the DID had around the time of `rev` (none until the
    history was fetched)."""
    if not identity.key_history:
        return []
    if isinstance(rev, str):
        try:
            rev = parse_tid(rev)
        except InvalidSyntax:
            return []  # verification refuses the event for its rev
    candidates = keys_in_effect(identity.key_history, rev.timestamp_us, _HISTORY_TOLERANCE_US)
    return [key for key in candidates if key != identity.signing_key]


def _account_publication(state: AccountState, seq: int, time: str, upstream_active: bool) -> Publication:
    """The relay's own `#account` carrying its combined view of `state`."""
    status = combined_status(state)
    body: dict[str, Any] = {
        "seq": seq,
        "did": state.did,
        "time": time,
        "active": status is AccountStatus.ACTIVE,
    }
    if status is not AccountStatus.ACTIVE:
        body["status"] = status.value
    return Publication(
        kind=EventKind.ACCOUNT,
        did=state.did,
        frame=encode_frame("#account", body),
        rev="",
        event_time=time,
        details=AccountDetails(active=upstream_active, upstream_status=state.upstream_status),
        derived=True,
    )


def _judge_commit(
    evt: CommitEvent, state: AccountState, identity: AccountIdentity, ctx: Context, created: bool
) -> Verdict:
    blocked = _blocked(state)
    verdict = _judge_commit_chain(evt, state, identity, ctx, created)
    if blocked is None or isinstance(verdict, RefreshIdentity | AwaitIdentity):
        return verdict
    if isinstance(verdict, Accept):
        # NOTE: a blocked account's valid commits are not relayed, but they still advance its
        # chain: when a takedown is reversed, the next commit's prevData matches again instead of
        # looking like a broken chain.
        return Drop(blocked.reason, blocked.detail, verdict.state)
    return blocked


def _judge_commit_chain(
    evt: CommitEvent, state: AccountState, identity: AccountIdentity, ctx: Context, created: bool
) -> Verdict:
    if state.rev is not None and evt.rev <= state.rev:
        reason = DropReason.REDELIVERED_STALE if ctx.redelivered else DropReason.REV_NOT_INCREASING
        return Drop(reason, f"rev {evt.rev} is not above stored rev {state.rev}")
    has_head = state.data_cid is not None
    strict = has_head or evt.prev_data is not None
    pre = ctx.precomputed
    try:
        earlier = _earlier_keys(identity, evt.rev)
        verified: VerifiedCommit | VerifiedHead
        if pre is not None and pre.applies(identity.signing_key, strict, earlier, ctx.now_us):
            verified = pre.outcome()
        else:
            verified = verify_commit_event(
                evt, signing_key=identity.signing_key, now_us=ctx.now_us, strict=strict, earlier_keys=earlier
            )
    except InvalidSignature as exc:
        return _signature_verdict(exc, ctx, identity)
    except BrokenChain as exc:
        return _broken_chain(evt, state, str(exc)) if has_head else Drop(DropReason.BROKEN_CHAIN, str(exc))
    except RelayError as exc:
        return Drop(reason_of(exc), str(exc))
    if has_head and evt.prev_data != state.data_cid:
        return _broken_chain(
            evt, state, f"prevData {evt.prev_data} is not the stored data CID {state.data_cid}"
        )
    new_state = with_head(state, verified.rev, verified.commit_cid, verified.data)
    # The usual accepted commit, built with trusted constructors: every value is checked or ours.
    publication = _make_publication(
        kind=EventKind.COMMIT,
        did=new_state.did,
        frame=ctx.frame,
        rev=evt.rev.value,
        event_time=evt.time.raw,
        details=_make_commit_details(
            commit_cid=verified.commit_cid,
            data_cid=verified.data,
            prev_data_cid=evt.prev_data,
            since=None if evt.since is None else evt.since.value,
            ops=evt.ops,
        ),
        derived=False,
    )
    publications = (
        (_account_publication(new_state, evt.seq, evt.time.raw, upstream_active=True), publication)
        if state.desynchronized
        else (publication,)
    )
    return _make_accept(
        publications=publications,
        state=new_state,
        created=created,
        earlier_key=verified.signed_by != identity.signing_key,
    )


def _broken_chain(evt: CommitEvent, state: AccountState, detail: str) -> Drop:
    if state.desynchronized:
        return Drop(DropReason.BROKEN_CHAIN, detail)
    new_state = replace(state, desynchronized=True)
    announce = _account_publication(new_state, evt.seq, evt.time.raw, upstream_active=True)
    return Drop(DropReason.BROKEN_CHAIN, detail, new_state, (announce,))


def _judge_sync(
    evt: SyncEvent, state: AccountState, identity: AccountIdentity, ctx: Context, created: bool
) -> Verdict:
    if (blocked := _blocked(state)) is not None:
        return blocked
    try:
        earlier = _earlier_keys(identity, evt.rev)
        pre = ctx.precomputed
        verified: VerifiedSync | VerifiedHead
        if pre is not None and pre.applies(identity.signing_key, True, earlier, ctx.now_us):
            verified = pre.outcome()
        else:
            verified = verify_sync_event(
                evt, signing_key=identity.signing_key, now_us=ctx.now_us, earlier_keys=earlier
            )
    except InvalidSignature as exc:
        return _signature_verdict(exc, ctx, identity)
    except RelayError as exc:
        return Drop(reason_of(exc), str(exc))
    # NOTE: the reference PDS repeats its latest rev in #sync, so an equal rev is normal.
    if state.rev is not None and verified.rev < state.rev:
        reason = DropReason.REDELIVERED_STALE if ctx.redelivered else DropReason.SYNC_REV_ROLLBACK
        return Drop(reason, f"#sync rev {verified.rev} is below stored rev {state.rev}")
    new_state = with_head(state, verified.rev, verified.commit_cid, verified.data)
    publications = [
        Publication(
            kind=EventKind.SYNC,
            did=new_state.did,
            frame=ctx.frame,
            rev=verified.rev.value,
            event_time=evt.time.raw,
            details=SyncDetails(commit_cid=verified.commit_cid, data_cid=verified.data),
        )
    ]
    if state.desynchronized:
        publications.append(_account_publication(new_state, evt.seq, evt.time.raw, upstream_active=True))
    return Accept(tuple(publications), new_state, created, verified.signed_by != identity.signing_key)


def _judge_identity(
    evt: IdentityEvent, state: AccountState, identity: AccountIdentity, ctx: Context, created: bool
) -> Verdict:
    try:
        verify_identity_event(evt)
    except RelayError as exc:
        return Drop(reason_of(exc), str(exc))
    if state.local_status in _LOCAL_BLOCKING:
        return Drop(_STATUS_REASONS[state.local_status], f"account is {state.local_status} here")
    confirmed = evt.handle is not None and identity.handle == evt.handle.lower()
    frame = ctx.frame
    if evt.handle is not None and not confirmed:
        # The PDS claimed a handle the DID document does not: relay the event without it.
        t, body = event_body(replace(evt, handle=None))
        frame = encode_frame(t, body)
    return Accept(
        (
            Publication(
                kind=EventKind.IDENTITY,
                did=state.did,
                frame=frame,
                rev="",
                event_time=evt.time.raw,
                details=IdentityDetails(
                    handle=evt.handle if confirmed else None,
                    handle_verified=confirmed and identity.handle_verified,
                ),
            ),
        ),
        state,
        created,
    )


def _upstream_status(evt: AccountEvent) -> AccountStatus:
    if evt.active:
        return AccountStatus.ACTIVE
    # NOTE: an inactive account without a status says nothing more specific than "deactivated".
    return AccountStatus(evt.status) if evt.status is not None else AccountStatus.DEACTIVATED


def _judge_account(evt: AccountEvent, state: AccountState, ctx: Context, created: bool) -> Verdict:
    try:
        verify_account_event(evt)
    except RelayError as exc:
        return Drop(reason_of(exc), str(exc))
    new_state = replace(state, upstream_status=_upstream_status(evt))
    combined = combined_status(new_state)
    frame = ctx.frame
    if combined is not new_state.upstream_status or (combined is AccountStatus.ACTIVE) != evt.active:
        body: dict[str, Any] = {
            "seq": evt.seq,
            "did": new_state.did,
            "time": evt.time.raw,
            "active": combined is AccountStatus.ACTIVE,
        }
        if combined is not AccountStatus.ACTIVE:
            body["status"] = combined.value
        frame = encode_frame("#account", body)
    publication = Publication(
        kind=EventKind.ACCOUNT,
        did=new_state.did,
        frame=frame,
        rev="",
        event_time=evt.time.raw,
        details=AccountDetails(active=evt.active, upstream_status=new_state.upstream_status),
    )
    return Accept((publication,), new_state, created)
