"""Microbenchmarks of the protocol core's per-event costs; prints a markdown table.

Run: `uv run --frozen python bench/bench_core.py`. Builds a typical 1-op #commit (40-record repo)
with the real MST and signer, then times each stage of verification. Times are CPU time
(`time.process_time_ns`), best of several rounds, so other processes on the machine inflate them
less than wall-clock time would; they are still only good to about ±30% on a busy machine.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from collections.abc import Callable

import bitcurve
from bitcurve._bitcurve import ecdsa_verify
from relay_core.car import read_car, read_car_raw, write_car
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.commit import (
    encode_commit,
    parse_commit,
    parse_signed_commit,
    sign_commit,
    verify_commit_signature,
)
from relay_core.firehose.events import CommitEvent, decode_event, parse_event
from relay_core.firehose.frames import decode_frame, encode_frame
from relay_core.firehose.verify import verify_commit_event
from relay_core.keys import Curve, PrivateKey
from relay_core.mst import Mst
from relay_core.syntax.did import parse_did
from relay_core.syntax.tid import tid_from_time

NOW_US = 1_700_000_000_000_000
DID = parse_did("did:plc:abcdefghijklmnopqrstuvwx")


def build_frame(key: PrivateKey, n_existing: int = 40) -> bytes:
    def rec(i: int) -> tuple[Cid, bytes]:
        block = encode_dag_cbor(
            {"$type": "app.bsky.feed.post", "text": f"post {i}", "createdAt": "2023-11-14T22:13:20Z"}
        )
        return Cid.for_dag_cbor(block), block

    def path(i: int) -> str:
        return f"app.bsky.feed.post/{tid_from_time(NOW_US - 10_000_000 + i)}"

    old = Mst.from_items([(path(i), rec(i)[0]) for i in range(n_existing)])
    rcid, rblock = rec(999)
    new = old.set(path(999), rcid)
    rev = tid_from_time(NOW_US)
    commit = sign_commit(did=DID, data=new.root, rev=rev, prev=None, key=key)
    block = encode_commit(commit)
    ccid = Cid.for_dag_cbor(block)
    blocks = {ccid: block, rcid: rblock, **new.proof_blocks([path(999)])}
    body = {
        "seq": 1,
        "repo": DID,
        "rev": str(rev),
        "since": None,
        "commit": ccid,
        "blocks": write_car([ccid], blocks),
        "ops": [{"action": "create", "path": path(999), "cid": rcid}],
        "blobs": [],
        "prevData": old.root,
        "time": "2023-11-14T22:13:20.000Z",
        "tooBig": False,
        "rebase": False,
    }
    return encode_frame("#commit", body)


def per_op_us(fn: Callable[[], object], round_seconds: float = 0.2, rounds: int = 5) -> float:
    """Best-of-`rounds` CPU time per call, in µs; the loop count is calibrated to `round_seconds`."""
    n = 1
    while True:
        start = time.process_time_ns()
        for _ in range(n):
            fn()
        elapsed = time.process_time_ns() - start
        if elapsed >= 20_000_000:
            break
        n *= 4
    n = max(1, int(n * round_seconds * 1e9 / elapsed))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time_ns() - start) / n)
    return best / 1000


def main() -> None:
    rows: list[tuple[str, float]] = []
    for curve in (Curve.K256, Curve.P256):
        frame = _bench_curve(curve, rows)
    # The interpreter's build moves the Python rows by 16–27% (docs/decisions/0005-interpreter.md).
    interpreter = f"CPython {platform.python_version()} ({os.path.realpath(sys.executable)})"
    print(f"frame size: {len(frame)} bytes; µs of CPU time per operation, best of 5 rounds; {interpreter}\n")
    print("| operation | µs/op |\n|---|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")


def _commit_event(frame: bytes) -> CommitEvent:
    evt = decode_event(frame)
    assert isinstance(evt, CommitEvent)
    return evt


def _bench_curve(curve: Curve, rows: list[tuple[str, float]]) -> bytes:
    key = PrivateKey.generate(curve)
    frame = build_frame(key)
    evt = _commit_event(frame)
    car = read_car(evt.blocks, max_bytes=2_000_000, max_blocks=10_000)
    block = car.blocks[evt.commit]
    commit = parse_commit(block)
    pub = key.public_key
    if curve is Curve.K256:
        decoded = decode_frame(frame)
        rows.append(("frame decode (strict DAG-CBOR, header+body)", per_op_us(lambda: decode_frame(frame))))
        rows.append(("parse_event (#commit lexicon checks)", per_op_us(lambda: parse_event(decoded))))
        rows.append(
            ("parse_event(decode_frame()) (two steps)", per_op_us(lambda: parse_event(decode_frame(frame))))
        )
        rows.append(("decode_event (frame bytes → CommitEvent)", per_op_us(lambda: decode_event(frame))))
        rows.append(
            (
                f"CAR split + sha256 CID check of {len(car.blocks)} blocks ({len(evt.blocks)} bytes)",
                per_op_us(lambda: read_car_raw(evt.blocks, max_bytes=2_000_000, max_blocks=10_000)),
            )
        )
        rows.append(
            (
                "decode_event + CAR split/CID checks",
                per_op_us(
                    lambda: read_car_raw(_commit_event(frame).blocks, max_bytes=2_000_000, max_blocks=10_000)
                ),
            )
        )
        rows.append(("commit block parse + unsigned bytes", per_op_us(lambda: parse_signed_commit(block))))
    if curve is Curve.K256:
        # The library call alone (what ../shared/PERF-NOTES.md's floor measures): how fast this
        # machine is during this run, to read the rows around it against.
        digest = hashlib.sha256(parse_signed_commit(block)[1]).digest()
        assert isinstance(pub.verifier, bitcurve.PublicKey)
        raw_key = pub.verifier.public_key
        rows.append(
            (
                "reference: libsecp256k1 compact verify alone via bitcurve, key parsed, digest given",
                per_op_us(lambda: ecdsa_verify(commit.sig, digest, raw_key)),
            )
        )
    rows.append((f"commit signature verify {curve}", per_op_us(lambda: verify_commit_signature(commit, pub))))
    rows.append(
        (
            f"**full verify_commit_event, 1 op, {curve}** (decode_event included)",
            per_op_us(lambda: verify_commit_event(_commit_event(frame), signing_key=pub, now_us=NOW_US)),
        )
    )
    return frame


if __name__ == "__main__":
    main()
