"""Which signing keys a DID had, and when: for judging events signed before a key rotation.

A relay that is behind the stream (a backlog after an outage, a slow replica) resolves a DID's
*current* document, but the commits it is judging were signed with the key that was current when
the PDS made them. A did:plc's PLC audit log (`GET <directory>/<did>/log/audit`) lists every
operation with the time the directory accepted it, so the key in effect at a commit's `rev` time
can be looked up. did:web has no history.

Contract of `parse_plc_audit_log`:

- Always checks: the log is a list of objects about exactly `did`, each with a `createdAt`
  datetime and an `operation` object; entries are taken in `createdAt` order.
- Skips: nullified entries (the directory replaced them in a recovery fork).
- Understands: `plc_operation` (`verificationMethods.atproto`), the legacy `create`
  (`signingKey`) and `plc_tombstone` (ends the last period).
- Does not check (the caller trusts its configured directory for this, as for documents): the
  operations' signatures and `prev` chain.

Choosing keys (`keys_in_effect`): a period counts when it overlaps `[t - tolerance, t + tolerance]`,
because the PDS's clock (which makes the rev) and the directory's (which stamps `createdAt`) differ,
and a commit signed just before a rotation can carry a rev a moment after it. Closest periods come
first so the right key is usually the first one tried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from relay_core.errors import InvalidIdentity, InvalidKey, InvalidSyntax
from relay_core.firehose.limits import FUTURE_REV_TOLERANCE_SECONDS
from relay_core.keys import PublicKey, parse_did_key
from relay_core.syntax.datetime import parse_datetime
from relay_core.syntax.did import Did

__all__ = ["KEY_HISTORY_TOLERANCE_SECONDS", "KeyPeriod", "keys_in_effect", "parse_plc_audit_log"]

KEY_HISTORY_TOLERANCE_SECONDS: Final = FUTURE_REV_TOLERANCE_SECONDS
"""Clock difference allowed between a PDS (rev times) and the PLC directory (`createdAt`); the
same bound a relay already allows a rev to be in the future."""

MAX_AUDIT_LOG_ENTRIES: Final = 10_000
"""Longer logs are refused: no real account has that many operations."""


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """One signing key and the span it was the DID's `#atproto` key."""

    signing_key: PublicKey
    valid_from_us: int
    valid_until_us: int | None
    """When the next operation replaced it (None: still current)."""


def parse_plc_audit_log(entries: Any, did: Did) -> tuple[KeyPeriod, ...]:
    """Key periods, oldest first, from a decoded PLC audit log.

    Raises:
        InvalidIdentity: reason `bad_audit_log` for anything that is not a usable log of `did`.
    """
    if not isinstance(entries, list):
        raise _bad("audit log is not a list")
    if len(entries) > MAX_AUDIT_LOG_ENTRIES:
        raise _bad(f"audit log has {len(entries)} entries (limit {MAX_AUDIT_LOG_ENTRIES})")
    timed: list[tuple[int, Mapping[str, Any]]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("did") != did:
            raise _bad("audit log entry is not an object about this DID")
        if entry.get("nullified") is True:
            continue
        operation = entry.get("operation")
        created = entry.get("createdAt")
        if not isinstance(operation, Mapping) or not isinstance(created, str):
            raise _bad("audit log entry lacks operation or createdAt")
        try:
            timed.append((parse_datetime(created).epoch_us, operation))
        except InvalidSyntax as exc:
            raise _bad(f"createdAt: {exc}") from exc
    timed.sort(key=lambda pair: pair[0])
    periods: list[KeyPeriod] = []
    for created_us, operation in timed:
        if periods and periods[-1].valid_until_us is None:
            periods[-1] = KeyPeriod(periods[-1].signing_key, periods[-1].valid_from_us, created_us)
        key = _operation_key(operation)
        if key is not None:
            periods.append(KeyPeriod(key, created_us, None))
    return tuple(periods)


def keys_in_effect(periods: Sequence[KeyPeriod], at_us: int, tolerance_us: int) -> list[PublicKey]:
    """Distinct keys whose period overlaps `at_us ± tolerance_us`, the closest period first."""
    scored: list[tuple[int, PublicKey]] = []
    for period in periods:
        until = period.valid_until_us
        if period.valid_from_us - tolerance_us > at_us:
            continue
        if until is not None and until + tolerance_us <= at_us:
            continue
        if at_us < period.valid_from_us:
            distance = period.valid_from_us - at_us
        elif until is not None and at_us >= until:
            distance = at_us - until + 1
        else:
            distance = 0
        scored.append((distance, period.signing_key))
    scored.sort(key=lambda pair: pair[0])
    out: list[PublicKey] = []
    for _, key in scored:
        if key not in out:
            out.append(key)
    return out


def _operation_key(operation: Mapping[str, Any]) -> PublicKey | None:
    """The `#atproto` key an operation sets; None for a tombstone or an op without one."""
    kind = operation.get("type")
    if kind == "plc_tombstone":
        return None
    if kind == "plc_operation":
        methods = operation.get("verificationMethods")
        if not isinstance(methods, Mapping):
            raise _bad("plc_operation lacks verificationMethods")
        raw = methods.get("atproto")
        if raw is None:
            return None
    elif kind == "create":
        raw = operation.get("signingKey")
    else:
        raise _bad(f"unknown operation type {str(kind)[:32]!r}")
    if not isinstance(raw, str):
        raise _bad("signing key is not a string")
    try:
        return parse_did_key(raw)
    except InvalidKey as exc:
        raise _bad(f"signing key: {exc}") from exc


def _bad(message: str) -> InvalidIdentity:
    return InvalidIdentity(message, reason="bad_audit_log")
