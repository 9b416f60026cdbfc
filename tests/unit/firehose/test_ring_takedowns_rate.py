"""The in-memory ring (hand-off point), the takedown set and the rate meter."""

from __future__ import annotations

import pytest
from relay_firehose.log_entry import LogEntry
from relay_firehose.rate import RateMeter
from relay_firehose.ring import EventRing
from relay_firehose.takedowns import TakedownSet


def entry(seq: int) -> LogEntry:
    return LogEntry(seq=seq, published_at_ns=seq, did="did:plc:a", kind="commit", wire=b"x" * 10)


def test_empty_ring_covers_only_the_next_seq() -> None:
    ring = EventRing(4, head=10)
    assert ring.covers(11) and not ring.covers(10) and not ring.covers(12)
    assert ring.take(11, max_bytes=100) == ([], 11)


def test_ring_keeps_the_newest_capacity_seqs_and_skips_gaps() -> None:
    ring = EventRing(4, head=0)
    for seq in (1, 2, 3):
        ring.append(entry(seq))
    ring.skip(4)  # dropped message
    ring.append(entry(6))  # 5 was deleted from the stream
    assert (ring.start, ring.head) == (3, 6)
    assert not ring.covers(2) and ring.covers(3) and ring.covers(7)
    got, next_seq = ring.take(3, max_bytes=1000)
    assert [e.seq for e in got] == [3, 6] and next_seq == 7
    got, next_seq = ring.take(3, max_bytes=5)
    assert [e.seq for e in got] == [3] and next_seq == 4
    ring.append(entry(6))  # redelivery is ignored
    ring.append(entry(100))  # a jump past capacity restarts the ring
    assert (ring.start, ring.head) == (100, 100)
    with pytest.raises(ValueError):
        ring.take(99, max_bytes=10)


def test_takedown_set() -> None:
    takedowns = TakedownSet()
    takedowns.apply_account_event("did:plc:a", active=False, takendown=True)
    takedowns.apply_account_event("did:plc:b", active=False, takendown=False)  # deactivated
    assert takedowns.hides("did:plc:a", "commit") and not takedowns.hides("did:plc:a", "account")
    assert not takedowns.hides("did:plc:b", "commit")
    takedowns.apply_account_event("did:plc:a", active=True, takendown=False)
    assert not takedowns.hides("did:plc:a", "commit") and len(takedowns) == 0
    takedowns.take_down("did:plc:c")
    assert "did:plc:c" in takedowns


def test_rate_meter() -> None:
    meter = RateMeter(window_seconds=60)
    assert meter.per_second(1000.0) == 0.0
    for second in range(1000, 1010):
        meter.add(100, second + 0.5)
    assert meter.per_second(1009.9) == pytest.approx(100.0)
    assert meter.per_second(1100.0) == 0.0
