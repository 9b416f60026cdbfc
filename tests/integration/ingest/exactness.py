"""Compare VERIFIED with the netsim ledger: what came out, how often, in which order.

Where each broken kind is caught (the ledger's ``reason`` is netsim's expected label; the
validator counts ``relay_validator_events_dropped_total{reason}``, the slurper
``relay_slurper_frames_dropped_total{reason}``):

| netsim kind | ledger reason | caught by, with label |
|---|---|---|
| `seq_not_increasing` | `seq_not_increasing` | slurper `seq_not_increasing` |
| `truncated_cbor` | `bad_frame_cbor` | slurper `bad_frame` |
| `oversized` | `blocks_too_big` | validator; over NATS `max_payload`: slurper `frame_too_big` |
| every other kind | as in the ledger | validator, same label |

The slurper only peeks at frames (type and seq), so the two frame-level defects stop there: a frame
whose seq does not increase is not published, and an undecodable frame has no seq to publish under.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tests.integration.ingest.pipeline import Verified
from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.ledger import LedgerEntry

__all__ = ["SLURPER_LABEL", "Expected", "check_exactly_once", "expected_drops"]

SLURPER_LABEL = {
    BrokenKind.SEQ_NOT_INCREASING: "seq_not_increasing",
    BrokenKind.TRUNCATED_CBOR: "bad_frame",
}
"""Broken kinds the slurper drops, with its `relay_slurper_frames_dropped_total` label."""


@dataclass(frozen=True, slots=True)
class Expected:
    slurper: Counter[str]
    validator: Counter[str]


def expected_drops(ledger: list[LedgerEntry], *, oversized_at_slurper: bool) -> Expected:
    """Drop counts the ledger implies, split by the service that must count them."""
    slurper: Counter[str] = Counter()
    validator: Counter[str] = Counter()
    for entry in ledger:
        kind = entry.broken
        if kind is None:
            continue
        if kind in SLURPER_LABEL:
            slurper[SLURPER_LABEL[kind]] += 1
        elif kind is BrokenKind.OVERSIZED and oversized_at_slurper:
            slurper["frame_too_big"] += 1
        else:
            validator[EXPECTED_REASON[kind]] += 1
    return Expected(slurper, validator)


def check_exactly_once(ledger: list[LedgerEntry], verified: list[Verified]) -> list[str]:
    """Problems found (empty = exact): every `ok` entry once, nothing else, per-account order.

    Also checks that each verified event carries the ledger entry's type, DID and rev.
    """
    problems: list[str] = []
    upstream = [v for v in verified if not v.derived]
    good = {(e.host, e.seq): e for e in ledger if e.broken is None}
    seen = Counter((v.event.host, v.event.upstream_seq) for v in upstream)
    duplicates = sorted(k for k, n in seen.items() if n > 1)
    if duplicates:
        problems.append(f"{len(duplicates)} events published more than once, e.g. {duplicates[:3]}")
    missing = sorted(set(good) - set(seen))
    if missing:
        problems.append(f"{len(missing)} good events missing, e.g. {[good[k] for k in missing[:3]]}")
    extra = sorted(set(seen) - set(good))
    if extra:
        problems.append(f"{len(extra)} events published that the ledger marks broken, e.g. {extra[:3]}")
    for v in upstream:
        entry = good.get((v.event.host, v.event.upstream_seq))
        if entry is None:
            continue
        if (v.event.did, "#" + v.event.kind, v.event.rev or None) != (entry.did, entry.type, entry.rev):
            problems.append(f"verified {v.event.kind} {v.event.did} {v.event.rev} does not match {entry}")
            break
    want: dict[str, list[int]] = defaultdict(list)
    for entry in ledger:
        if entry.broken is None:
            want[entry.did].append(entry.seq)
    got: dict[str, list[int]] = defaultdict(list)
    for v in upstream:
        got[v.event.did].append(v.event.upstream_seq)
    out_of_order = [did for did in want if got[did] != want[did] and not missing and not duplicates]
    if out_of_order:
        problems.append(f"{len(out_of_order)} accounts out of order, e.g. {out_of_order[:2]}")
    return problems
