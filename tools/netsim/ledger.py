"""What the simulator sent: one `LedgerEntry` per frame, and the totals the report is made of.

The ledger is the answer key for exactness tests: every entry with `expect == "ok"` must come out
of the relay's verified stream exactly once, and every other entry must be dropped with the
entry's `reason`. Entries are written as JSON lines (`to_json_line`) so a long run streams them
to disk instead of holding them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from tools.netsim.broken import EXPECTED_REASON, BrokenKind

__all__ = ["EXPECT_OK", "LedgerEntry", "Tally", "read_ledger", "write_entries"]

EXPECT_OK = "ok"

_string: Callable[[str], str] = encode_basestring_ascii
"""A str as a JSON string exactly as `json.dumps` writes it (its own C encoder)."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One frame a host sent."""

    host: str
    """`localhost:<port>`, the hostname a relay knows the host by."""
    seq: int
    """The seq in the frame (for `truncated_cbor`, the seq it would have carried)."""
    did: str
    type: str
    rev: str | None
    broken: BrokenKind | None = None

    @property
    def expect(self) -> str:
        """`ok`, or the broken kind's name."""
        return EXPECT_OK if self.broken is None else self.broken.value

    @property
    def reason(self) -> str | None:
        """The drop reason a relay should report (None for good events)."""
        return None if self.broken is None else EXPECTED_REASON[self.broken]

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "seq": self.seq,
            "did": self.did,
            "type": self.type,
            "rev": self.rev,
            "expect": self.expect,
            "reason": self.reason,
        }

    def to_json_line(self) -> str:
        """`to_json()` as compact JSON, written out directly: one line per frame sent, and
        `json.dumps` of the dict cost 4.5 µs of the ~85 µs a prepared frame costs to send."""
        rev, reason = self.rev, self.reason
        return (
            f'{{"host":{_string(self.host)},"seq":{int(self.seq)},"did":{_string(self.did)},'
            f'"type":{_string(self.type)},"rev":{"null" if rev is None else _string(rev)},'
            f'"expect":{_string(self.expect)},"reason":{"null" if reason is None else _string(reason)}}}'
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LedgerEntry:
        expect = obj["expect"]
        broken = None if expect == EXPECT_OK else BrokenKind(expect)
        return cls(obj["host"], obj["seq"], obj["did"], obj["type"], obj["rev"], broken)


def read_ledger(lines: Iterable[str]) -> list[LedgerEntry]:
    """Parse a JSONL ledger (blank lines ignored)."""
    return [LedgerEntry.from_json(json.loads(line)) for line in lines if line.strip()]


@dataclass(slots=True)
class Tally:
    """Running counts of what was sent; mergeable across processes."""

    by_host: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    broken_by_kind: Counter[str] = field(default_factory=Counter)
    good: int = 0
    broken: int = 0
    frame_bytes: int = 0

    @property
    def total(self) -> int:
        return self.good + self.broken

    def add(self, entry: LedgerEntry, frame_bytes: int) -> None:
        self.by_host[entry.host] += 1
        self.by_type[entry.type] += 1
        self.frame_bytes += frame_bytes
        if entry.broken is None:
            self.good += 1
        else:
            self.broken += 1
            self.broken_by_kind[entry.broken.value] += 1

    def merge(self, other: Tally) -> None:
        self.by_host.update(other.by_host)
        self.by_type.update(other.by_type)
        self.broken_by_kind.update(other.broken_by_kind)
        self.good += other.good
        self.broken += other.broken
        self.frame_bytes += other.frame_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "good": self.good,
            "broken": self.broken,
            "frame_bytes": self.frame_bytes,
            "by_type": dict(sorted(self.by_type.items())),
            "broken_by_kind": dict(sorted(self.broken_by_kind.items())),
            "by_host": dict(sorted(self.by_host.items())),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Tally:
        return cls(
            by_host=Counter(obj["by_host"]),
            by_type=Counter(obj["by_type"]),
            broken_by_kind=Counter(obj["broken_by_kind"]),
            good=obj["good"],
            broken=obj["broken"],
            frame_bytes=obj["frame_bytes"],
        )


def write_entries(out: TextIO, entries: Iterable[LedgerEntry]) -> None:
    """Append entries to a JSONL stream."""
    out.writelines(entry.to_json_line() + "\n" for entry in entries)
