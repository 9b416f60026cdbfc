"""judge(): every rule, on real signed events (good and broken) from the network simulator."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from relay_core.cbor import decode_dag_cbor_multi
from relay_core.firehose.frames import encode_frame
from relay_core.key_history import KEY_HISTORY_TOLERANCE_SECONDS, KeyPeriod
from relay_core.keys import Curve, PrivateKey, PublicKey
from relay_validator.account_state import AccountStatus
from relay_validator.drop_reason import DropReason
from relay_validator.identity import AccountIdentity, FailureKind, IdentityFailure
from relay_validator.verdict import (
    Accept,
    AccountDetails,
    AwaitIdentity,
    Drop,
    EventKind,
    IdentityDetails,
    RefreshIdentity,
)

from tests.unit.validator.sim import HOST, Driver, new_repo
from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.repo import Signer


@pytest.fixture
def driver() -> Driver:
    repo, identity = new_repo(0)
    d = Driver(repo, identity)
    assert all(isinstance(v, Accept) for v in d.genesis())
    return d


def _kinds(verdict: Accept | Drop) -> list[EventKind]:
    return [p.kind for p in verdict.publications]


def _body(frame: bytes) -> dict[str, object]:
    _, body = decode_dag_cbor_multi(frame)
    assert isinstance(body, dict)
    return body


def test_genesis_is_identity_account_commit_sync_and_creates_the_account() -> None:
    repo, identity = new_repo(1)
    d = Driver(repo, identity)
    verdicts = d.genesis()
    assert all(isinstance(v, Accept) for v in verdicts)
    accepted = [v for v in verdicts if isinstance(v, Accept)]
    assert [_kinds(v) for v in accepted] == [
        [EventKind.IDENTITY],
        [EventKind.ACCOUNT],
        [EventKind.COMMIT],
        [EventKind.SYNC],
    ]
    assert accepted[0].created and not accepted[1].created
    assert d.state is not None and d.state.rev == repo.rev and d.state.data_cid == repo.tree.root


def test_good_commits_chain_and_relay_the_upstream_frame_verbatim(driver: Driver) -> None:
    for _ in range(6):
        frame = driver.frame(driver.mutate())
        verdict = driver.judge_frame(frame)
        assert isinstance(verdict, Accept), verdict
        assert verdict.publications[0].frame == frame
    assert driver.state is not None and driver.state.data_cid == driver.repo.tree.root


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in BrokenKind
        if k
        not in (
            BrokenKind.SEQ_NOT_INCREASING,
            BrokenKind.TRUNCATED_CBOR,
            BrokenKind.BAD_ACCOUNT_STATUS,
            BrokenKind.BAD_HANDLE,
        )
    ],
)
def test_each_broken_commit_is_dropped_with_its_reason_and_the_chain_goes_on(
    driver: Driver, kind: BrokenKind
) -> None:
    driver.send(driver.mutate())  # a record to update/delete, so prev-carrying ops occur too
    wrong = Signer(b"\x11" * 32)
    verdict = driver.send(driver.mutate(broken=kind, wrong_signer=wrong))
    assert isinstance(verdict, Drop)
    assert verdict.reason == EXPECTED_REASON[kind]
    good = driver.send(driver.mutate())
    assert isinstance(good, Accept), good
    if kind is BrokenKind.PREV_DATA_BREAK:
        # The break announced the account desynchronized; the next chaining commit brings it back.
        assert _kinds(good) == [EventKind.ACCOUNT, EventKind.COMMIT]
        assert _body(good.publications[0].frame)["active"] is True
    else:
        assert _kinds(good) == [EventKind.COMMIT]


def test_truncated_frame_is_bad_cbor(driver: Driver) -> None:
    frame = driver.frame(driver.mutate())
    verdict = driver.judge_frame(frame[: len(frame) // 2])
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.BAD_FRAME_CBOR


def test_signature_mismatch_asks_for_a_fresh_key_then_the_key_history_before_dropping(driver: Driver) -> None:
    frame = driver.frame(driver.mutate(broken=BrokenKind.WRONG_KEY, wrong_signer=Signer(b"\x22" * 32)))
    identity = driver.identity
    assert isinstance(identity, AccountIdentity)
    known_history = identity.key_history
    driver.identity = replace(identity, key_history=None)
    assert driver.judge_frame(frame, fresh=False) == RefreshIdentity(DropReason.SIGNATURE_MISMATCH)
    assert driver.judge_frame(frame, fresh=True) == RefreshIdentity(
        DropReason.SIGNATURE_MISMATCH, key_history=True
    )
    driver.identity = replace(identity, key_history=known_history)
    verdict = driver.judge_frame(frame, fresh=True)
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.SIGNATURE_MISMATCH


def _rotated_away(driver: Driver, *, rotated_at_us: int) -> PublicKey:
    """Make the identity's current key a new one; the key the repo signs with becomes history."""
    identity = driver.identity
    assert isinstance(identity, AccountIdentity)
    new_key = PrivateKey.generate(Curve.K256).public_key
    driver.identity = replace(
        identity,
        signing_key=new_key,
        key_history=(
            KeyPeriod(identity.signing_key, 0, rotated_at_us),
            KeyPeriod(new_key, rotated_at_us, None),
        ),
    )
    return identity.signing_key


def test_events_signed_before_a_rotation_verify_with_the_key_of_their_time() -> None:
    repo, identity = new_repo(3)
    driver = Driver(repo, identity)
    _rotated_away(driver, rotated_at_us=time.time_ns() // 1000 + 60_000_000)
    verdicts = driver.genesis()
    assert all(isinstance(v, Accept) for v in verdicts)
    commit, sync = verdicts[2], verdicts[3]
    assert isinstance(commit, Accept) and commit.earlier_key and _kinds(commit) == [EventKind.COMMIT]
    assert isinstance(sync, Accept) and sync.earlier_key and _kinds(sync) == [EventKind.SYNC]
    # The chain goes on under the old key while its revs are from before the rotation.
    later = driver.send(driver.mutate(), fresh=True)
    assert isinstance(later, Accept) and later.earlier_key


def test_a_key_retired_long_before_the_rev_is_not_accepted(driver: Driver) -> None:
    now_us = time.time_ns() // 1000
    _rotated_away(driver, rotated_at_us=now_us - (KEY_HISTORY_TOLERANCE_SECONDS + 60) * 1_000_000)
    verdict = driver.send(driver.mutate(), fresh=True)
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.SIGNATURE_MISMATCH


def test_high_s_is_dropped_without_a_refresh(driver: Driver) -> None:
    verdict = driver.send(driver.mutate(broken=BrokenKind.HIGH_S), fresh=False)
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.HIGH_S


def test_broken_chain_desynchronizes_once_and_a_sync_clears_it(driver: Driver) -> None:
    first = driver.send(driver.mutate(broken=BrokenKind.PREV_DATA_BREAK))
    assert isinstance(first, Drop) and first.reason == DropReason.BROKEN_CHAIN
    assert driver.state is not None and driver.state.desynchronized
    (announce,) = first.publications
    assert announce.derived and announce.kind is EventKind.ACCOUNT
    assert _body(announce.frame) == {
        "seq": driver.seq,
        "did": driver.repo.did,
        "time": _body(announce.frame)["time"],
        "active": False,
        "status": "desynchronized",
    }
    assert announce.details == AccountDetails(active=True, upstream_status=AccountStatus.ACTIVE)
    again = driver.send(driver.mutate(broken=BrokenKind.PREV_DATA_BREAK))
    assert isinstance(again, Drop) and again.publications == () and again.state is None


def test_commit_whose_prev_data_is_not_the_stored_head_breaks_the_chain(driver: Driver) -> None:
    skipped = driver.mutate()  # built and "lost": never reaches the validator
    assert skipped.broken is None
    verdict = driver.send(driver.mutate())
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.BROKEN_CHAIN
    assert driver.state is not None and driver.state.desynchronized
    # Every later commit chains to the lost one, so they all stay dropped: the relay is desynchronized.
    later = driver.send(driver.mutate())
    assert isinstance(later, Drop) and later.reason == DropReason.BROKEN_CHAIN


def test_commit_without_prev_data_on_a_known_head_is_refused(driver: Driver) -> None:
    event = driver.mutate()
    body = {k: v for k, v in event.body.items() if k != "prevData"}
    driver.seq += 1
    verdict = driver.judge_frame(encode_frame("#commit", {**body, "seq": driver.seq}))
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.MISSING_PREV_DATA


def test_stale_rev_is_rev_not_increasing_or_a_redelivered_replay(driver: Driver) -> None:
    frame = driver.frame(driver.mutate())
    assert isinstance(driver.judge_frame(frame), Accept)
    replay = driver.judge_frame(frame, redelivered=True)
    assert isinstance(replay, Drop) and replay.reason == DropReason.REDELIVERED_STALE
    again = driver.judge_frame(frame)
    assert isinstance(again, Drop) and again.reason == DropReason.REV_NOT_INCREASING


def test_sync_may_repeat_the_rev_but_not_go_back(driver: Driver) -> None:
    from relay_core.syntax.tid import Tid, tid_from_time

    def sync_at(rev_tid: Tid) -> Accept | Drop:
        """A #sync of the current tree re-signed at `rev_tid` (the repo itself does not move)."""
        driver.seq += 1
        v = driver.judge_frame(
            encode_frame("#sync", {**driver.repo.sync_body(rev=rev_tid), "seq": driver.seq})
        )
        assert isinstance(v, Accept | Drop)
        return v

    assert driver.state is not None and driver.state.rev is not None
    same = sync_at(driver.state.rev)
    assert isinstance(same, Accept) and _kinds(same) == [EventKind.SYNC]
    older = sync_at(tid_from_time(driver.state.rev.timestamp_us - 5_000_000))
    assert isinstance(older, Drop) and older.reason == DropReason.SYNC_REV_ROLLBACK
    # After a break, a valid #sync clears desynchronized and announces the account active again.
    driver.send(driver.mutate(broken=BrokenKind.PREV_DATA_BREAK))
    assert driver.state.desynchronized
    cleared = sync_at(driver.clock.next())
    assert isinstance(cleared, Accept) and _kinds(cleared) == [EventKind.SYNC, EventKind.ACCOUNT]
    assert not cleared.state.desynchronized
    assert _body(cleared.publications[1].frame)["active"] is True


def test_wrong_host_refreshes_then_drops_and_a_confirmed_move_updates_the_host(driver: Driver) -> None:
    driver.host = "other.test"
    event = driver.mutate()
    frame = driver.frame(event)
    assert driver.judge_frame(frame, fresh=False) == RefreshIdentity(DropReason.WRONG_HOST)
    verdict = driver.judge_frame(frame)
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.WRONG_HOST
    # The DID document now names other.test (a migration): the event passes and the host moves.
    driver.set_state(host=HOST)
    assert driver.identity is not None and not isinstance(driver.identity, IdentityFailure)
    from dataclasses import replace

    driver.identity = replace(driver.identity, pds_host="other.test")
    moved = driver.judge_frame(frame)
    assert isinstance(moved, Accept) and moved.state.host == "other.test"


def test_new_account_on_a_full_host_is_throttled() -> None:
    repo, identity = new_repo(2)
    d = Driver(repo, identity)
    first = repo.genesis(d.clock)[0]
    verdict = d.send(first, room=False)
    assert isinstance(verdict, Drop) and verdict.reason == DropReason.HOST_ACCOUNT_LIMIT
    assert d.state is None


def test_existing_accounts_ignore_the_host_limit(driver: Driver) -> None:
    assert isinstance(driver.send(driver.mutate(), room=False), Accept)


@pytest.mark.parametrize(
    ("local", "upstream", "reason"),
    [
        (AccountStatus.TAKENDOWN, AccountStatus.ACTIVE, DropReason.ACCOUNT_TAKENDOWN),
        (AccountStatus.SUSPENDED, AccountStatus.ACTIVE, DropReason.ACCOUNT_SUSPENDED),
        (AccountStatus.ACTIVE, AccountStatus.DEACTIVATED, DropReason.ACCOUNT_DEACTIVATED),
        (AccountStatus.ACTIVE, AccountStatus.TAKENDOWN, DropReason.ACCOUNT_TAKENDOWN),
        (AccountStatus.ACTIVE, AccountStatus.DELETED, DropReason.ACCOUNT_DELETED),
    ],
)
def test_inactive_accounts_commits_are_dropped(
    driver: Driver, local: AccountStatus, upstream: AccountStatus, reason: DropReason
) -> None:
    driver.set_state(local_status=local, upstream_status=upstream)
    verdict = driver.send(driver.mutate())
    assert isinstance(verdict, Drop) and verdict.reason == reason and not verdict.publications


def test_a_taken_down_accounts_valid_commits_advance_its_chain_unrelayed(driver: Driver) -> None:
    driver.set_state(local_status=AccountStatus.TAKENDOWN)
    hidden = driver.send(driver.mutate())
    assert isinstance(hidden, Drop) and hidden.reason == DropReason.ACCOUNT_TAKENDOWN
    assert hidden.state is not None and not hidden.publications
    # Reversed: the next commit chains from the hidden one, so it is relayed, not a broken chain.
    driver.set_state(local_status=AccountStatus.ACTIVE)
    assert isinstance(driver.send(driver.mutate()), Accept)


def test_local_takedown_drops_identity_and_wins_in_account_events(driver: Driver) -> None:
    driver.set_state(local_status=AccountStatus.TAKENDOWN)
    ident = driver.send(driver.repo.identity_change(driver.repo.handle))
    assert isinstance(ident, Drop) and ident.reason == DropReason.ACCOUNT_TAKENDOWN
    account = driver.send(driver.repo.account_change(True, None))
    assert isinstance(account, Accept)
    (pub,) = account.publications
    assert _body(pub.frame)["active"] is False and _body(pub.frame)["status"] == "takendown"
    assert pub.details == AccountDetails(active=True, upstream_status=AccountStatus.ACTIVE)


def test_upstream_account_status_is_stored_and_relayed_verbatim(driver: Driver) -> None:
    frame = driver.frame(driver.repo.account_change(False, "deactivated"))
    verdict = driver.judge_frame(frame)
    assert isinstance(verdict, Accept) and verdict.publications[0].frame == frame
    assert verdict.state.upstream_status is AccountStatus.DEACTIVATED
    dropped = driver.send(driver.mutate())
    assert isinstance(dropped, Drop) and dropped.reason == DropReason.ACCOUNT_DEACTIVATED
    # Identity events of a deactivated account still pass.
    assert isinstance(driver.send(driver.repo.identity_change(driver.repo.handle)), Accept)


def test_identity_handle_passes_only_when_the_did_document_claims_it(driver: Driver) -> None:
    frame = driver.frame(driver.repo.identity_change(driver.repo.handle))
    confirmed = driver.judge_frame(frame)
    assert isinstance(confirmed, Accept) and confirmed.publications[0].frame == frame
    assert confirmed.publications[0].details == IdentityDetails(
        handle=driver.repo.handle, handle_verified=True
    )
    claimed = driver.send(driver.repo.identity_change("someone-else.test"))
    assert isinstance(claimed, Accept)
    assert "handle" not in _body(claimed.publications[0].frame)
    assert claimed.publications[0].details == IdentityDetails(handle=None, handle_verified=False)


@pytest.mark.parametrize("broken", ["identity", "account"])
def test_malformed_identity_and_account_events(driver: Driver, broken: str) -> None:
    event = driver.repo.broken_identity() if broken == "identity" else driver.repo.broken_account()
    verdict = driver.send(event)
    assert event.broken is not None
    assert isinstance(verdict, Drop) and verdict.reason == EXPECTED_REASON[event.broken]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (IdentityFailure(FailureKind.NOT_FOUND, "404"), DropReason.IDENTITY_NOT_FOUND),
        (IdentityFailure(FailureKind.TOMBSTONED, "410"), DropReason.IDENTITY_TOMBSTONED),
        (IdentityFailure(FailureKind.INVALID, "no key"), DropReason.IDENTITY_INVALID),
    ],
)
def test_identity_failures_drop(driver: Driver, failure: IdentityFailure, expected: DropReason) -> None:
    driver.identity = failure
    verdict = driver.send(driver.mutate())
    assert isinstance(verdict, Drop) and verdict.reason == expected


@pytest.mark.parametrize("identity", [None, IdentityFailure(FailureKind.UNREACHABLE, "timeout")])
def test_unresolvable_identity_never_passes(driver: Driver, identity: IdentityFailure | None) -> None:
    driver.identity = identity
    assert isinstance(driver.send(driver.mutate()), AwaitIdentity)


@pytest.mark.parametrize(
    ("t", "body", "reason"),
    [
        (
            "#handle",
            {
                "seq": 1,
                "did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
                "handle": "a.test",
                "time": "2024-01-01T00:00:00Z",
            },
            DropReason.LEGACY_EVENT,
        ),
        (
            "#tombstone",
            {"seq": 1, "did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "time": "2024-01-01T00:00:00Z"},
            DropReason.LEGACY_EVENT,
        ),
        (
            "#migrate",
            {
                "seq": 1,
                "did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
                "migrateTo": None,
                "time": "2024-01-01T00:00:00Z",
            },
            DropReason.LEGACY_EVENT,
        ),
        ("#info", {"name": "OutdatedCursor"}, DropReason.INFO_NOT_RELAYED),
        ("#whatever", {"seq": 1}, DropReason.UNKNOWN_EVENT_TYPE),
        (
            "#identity",
            {"seq": 1, "did": "did:web:Example.com", "time": "2024-01-01T00:00:00Z"},
            DropReason.DID_WEB_NOT_NORMALIZED,
        ),
        (
            "#identity",
            {
                "seq": 1,
                "did": "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
                "time": "2024-01-01T00:00:00Z",
            },
            DropReason.UNSUPPORTED_DID_METHOD,
        ),
        (
            "#identity",
            {"seq": 1, "did": "did:plc:UPPER", "time": "2024-01-01T00:00:00Z"},
            DropReason.BAD_DID_PLC,
        ),
    ],
)
def test_frames_that_never_reach_verification(
    driver: Driver, t: str, body: dict[str, object], reason: DropReason
) -> None:
    verdict = driver.judge_frame(encode_frame(t, body))
    assert isinstance(verdict, Drop) and verdict.reason == reason
