"""Ledger entries, JSONL round trip, and tallies."""

from __future__ import annotations

import io
import json

from tools.netsim.broken import EXPECTED_REASON, BrokenKind
from tools.netsim.ledger import LedgerEntry, Tally, read_ledger, write_entries


def test_good_entry_expects_ok_and_no_reason() -> None:
    entry = LedgerEntry("localhost:1", 1, "did:plc:a", "#commit", "3abc")
    assert entry.expect == "ok"
    assert entry.reason is None


def test_broken_entry_names_kind_and_reason() -> None:
    entry = LedgerEntry("localhost:1", 2, "did:plc:a", "#commit", "3abc", BrokenKind.HIGH_S)
    assert entry.to_json()["expect"] == "high_s"
    assert entry.to_json()["reason"] == "high_s"


def test_every_kind_has_a_reason() -> None:
    assert set(EXPECTED_REASON) == set(BrokenKind)


def test_jsonl_round_trip() -> None:
    entries = [
        LedgerEntry("localhost:1", 1, "did:plc:a", "#identity", None),
        LedgerEntry("localhost:2", 7, "did:plc:b", "#commit", "3xyz", BrokenKind.PREV_DATA_BREAK),
    ]
    out = io.StringIO()
    write_entries(out, entries)
    lines = out.getvalue().splitlines()
    assert json.loads(lines[1])["reason"] == "broken_chain"
    assert read_ledger([*lines, ""]) == entries


def test_tally_counts_and_merges() -> None:
    a, b = Tally(), Tally()
    a.add(LedgerEntry("h1", 1, "d", "#commit", "r"), 100)
    a.add(LedgerEntry("h1", 2, "d", "#commit", "r", BrokenKind.BAD_CID), 50)
    b.add(LedgerEntry("h2", 1, "e", "#account", None), 10)
    a.merge(Tally.from_json(json.loads(json.dumps(b.to_json()))))
    assert (a.total, a.good, a.broken, a.frame_bytes) == (3, 2, 1, 160)
    assert a.by_host == {"h1": 2, "h2": 1}
    assert a.broken_by_kind == {"bad_cid": 1}
    assert a.to_json()["by_type"] == {"#account": 1, "#commit": 2}


def test_json_line_is_exactly_what_json_dumps_writes() -> None:
    odd = ["plain", 'quote " and \\ backslash', "tab\tnewline\n", "ünïcödé ☃", "\x00\x1f", "</script>", ""]
    entries = [
        LedgerEntry(host, seq, did, kind, rev, broken)
        for host, seq, did, kind, rev, broken in [
            ("localhost:1", 1, "did:plc:a", "#commit", "3abc", None),
            ("localhost:2", 2**40, "did:plc:b", "#identity", None, BrokenKind.BAD_HANDLE),
            *((o, i, o, o, o, None) for i, o in enumerate(odd)),
            *((o, 0, o, "#account", None, BrokenKind.TRUNCATED_CBOR) for o in odd),
        ]
    ]
    for entry in entries:
        assert entry.to_json_line() == json.dumps(entry.to_json(), separators=(",", ":"))
