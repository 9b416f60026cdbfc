"""PLC audit logs → key periods → the keys in effect at a rev time."""

from __future__ import annotations

from typing import Any

import pytest
from relay_core.builders import iso_at
from relay_core.errors import InvalidIdentity
from relay_core.key_history import KeyPeriod, keys_in_effect, parse_plc_audit_log
from relay_core.keys import Curve, PrivateKey
from relay_core.syntax.did import parse_did

DID = parse_did("did:plc:abcdefghijklmnopqrstuvwx")
KEYS = [PrivateKey.generate(Curve.K256).public_key for _ in range(3)]
T0 = 1_700_000_000_000_000
SECOND = 1_000_000


def _entry(operation: dict[str, Any], at_us: int, *, nullified: bool = False) -> dict[str, Any]:
    return {
        "did": DID,
        "operation": operation,
        "cid": "bafy",
        "nullified": nullified,
        "createdAt": iso_at(at_us),
    }


def _op(key_index: int) -> dict[str, Any]:
    return {
        "type": "plc_operation",
        "verificationMethods": {"atproto": KEYS[key_index].did_key()},
        "rotationKeys": [],
        "alsoKnownAs": [],
        "services": {},
        "prev": None,
        "sig": "",
    }


def test_periods_follow_the_log_in_created_order() -> None:
    log = [_entry(_op(1), T0 + 10 * SECOND), _entry(_op(0), T0), _entry(_op(2), T0 + 20 * SECOND)]
    assert parse_plc_audit_log(log, DID) == (
        KeyPeriod(KEYS[0], T0, T0 + 10 * SECOND),
        KeyPeriod(KEYS[1], T0 + 10 * SECOND, T0 + 20 * SECOND),
        KeyPeriod(KEYS[2], T0 + 20 * SECOND, None),
    )


def test_nullified_entries_are_skipped_and_tombstone_ends_the_last_period() -> None:
    log = [
        _entry(_op(0), T0),
        _entry(_op(1), T0 + SECOND, nullified=True),
        _entry({"type": "plc_tombstone", "prev": "x", "sig": ""}, T0 + 5 * SECOND),
    ]
    assert parse_plc_audit_log(log, DID) == (KeyPeriod(KEYS[0], T0, T0 + 5 * SECOND),)


def test_legacy_create_operation_has_a_signing_key() -> None:
    log = [_entry({"type": "create", "signingKey": KEYS[2].did_key(), "prev": None}, T0)]
    assert parse_plc_audit_log(log, DID) == (KeyPeriod(KEYS[2], T0, None),)


@pytest.mark.parametrize(
    "log",
    [
        {"not": "a list"},
        [{"did": "did:plc:someoneelsexxxxxxxxxxxxx", "operation": {}, "createdAt": "2024-01-01T00:00:00Z"}],
        [{"did": DID, "createdAt": "2024-01-01T00:00:00Z"}],
        [{"did": DID, "operation": {"type": "plc_operation"}, "createdAt": "2024-01-01T00:00:00Z"}],
        [{"did": DID, "operation": {"type": "mystery"}, "createdAt": "2024-01-01T00:00:00Z"}],
        [{"did": DID, "operation": _op(0), "createdAt": "yesterday"}],
        [
            {
                "did": DID,
                "operation": {"type": "create", "signingKey": "did:key:zBad"},
                "createdAt": "2024-01-01T00:00:00Z",
            }
        ],
    ],
)
def test_unusable_logs_are_refused(log: Any) -> None:
    with pytest.raises(InvalidIdentity) as info:
        parse_plc_audit_log(log, DID)
    assert info.value.reason == "bad_audit_log"


def test_keys_in_effect_closest_first_within_tolerance() -> None:
    periods = parse_plc_audit_log(
        [_entry(_op(0), T0), _entry(_op(1), T0 + 10 * SECOND), _entry(_op(2), T0 + 20 * SECOND)], DID
    )
    assert keys_in_effect(periods, T0 + 5 * SECOND, 0) == [KEYS[0]]
    assert keys_in_effect(periods, T0 + 10 * SECOND, 0) == [KEYS[1]]
    # A rev a moment after the rotation may still be the old key's (clocks differ): both, new first.
    assert keys_in_effect(periods, T0 + 10 * SECOND + 1, 2 * SECOND) == [KEYS[1], KEYS[0]]
    assert keys_in_effect(periods, T0 + 9 * SECOND, 2 * SECOND) == [KEYS[0], KEYS[1]]
    assert keys_in_effect(periods, T0 - 3 * SECOND, 2 * SECOND) == []
    assert keys_in_effect(periods, T0 + 99 * SECOND, 2 * SECOND) == [KEYS[2]]
    assert keys_in_effect(periods, T0 + 14 * SECOND, 60 * SECOND) == [KEYS[1], KEYS[0], KEYS[2]]


def test_keys_in_effect_lists_a_key_once() -> None:
    periods = (
        KeyPeriod(KEYS[0], T0, T0 + SECOND),
        KeyPeriod(KEYS[1], T0 + SECOND, T0 + 2 * SECOND),
        KeyPeriod(KEYS[0], T0 + 2 * SECOND, None),
    )
    assert keys_in_effect(periods, T0 + 1_500_000, SECOND) == [KEYS[1], KEYS[0]]
