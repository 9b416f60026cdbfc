"""Micro-benchmarks for the per-event identity and crypto checks (µs per operation).

Run: `uv run --frozen python bench/bench_keys.py`. Prints a markdown table; compare with
/work/shared/PERF-NOTES.md (k256 verify ~31 µs, P-256 ~81 µs, did:key decode ~0.7 µs).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from relay_core.keys import Curve, PrivateKey, b58decode, parse_did_key, parse_multibase_key
from relay_core.signatures import verify_signature
from relay_core.syntax import (
    parse_at_uri,
    parse_datetime,
    parse_did,
    parse_handle,
    parse_nsid,
    parse_record_key,
    parse_relay_did,
    parse_tid,
    tid_from_time,
)

MESSAGE = b"\xa5" * 180  # about the size of a DAG-CBOR signed commit minus its signature


def _us_per_op(fn: Callable[[], object], round_seconds: float = 0.1) -> float:
    """Best of 3 rounds of a perf_counter loop; the loop count is calibrated to `round_seconds`."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= round_seconds / 10:
            break
        n *= 4
    n = max(1, int(n * round_seconds / elapsed))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def main() -> None:
    k256 = PrivateKey.generate(Curve.K256)
    p256 = PrivateKey.generate(Curve.P256)
    k_sig, p_sig = k256.sign(MESSAGE), p256.sign(MESSAGE)
    k_pub, p_pub = k256.public_key, p256.public_key
    did_key = k_pub.did_key()
    multibase = k_pub.multibase()
    tid = parse_tid("3jzfcijpj2z2a")
    rows: list[tuple[str, Callable[[], object]]] = [
        ("k256 verify (cached key)", lambda: verify_signature(k_pub, MESSAGE, k_sig)),
        ("p256 verify (cached key)", lambda: verify_signature(p_pub, MESSAGE, p_sig)),
        ("k256 sign", lambda: k256.sign(MESSAGE)),
        ("did:key decode (cache hit)", lambda: parse_did_key(did_key)),
        ("multibase key decode + point check (no cache)", lambda: parse_multibase_key(multibase)),
        ("base58 decode only (35 bytes)", lambda: b58decode(multibase[1:])),
        ("parse_did (plc)", lambda: parse_did("did:plc:ewvi7nxzyoun6zhxrhs64oiz")),
        ("parse_relay_did (plc)", lambda: parse_relay_did("did:plc:ewvi7nxzyoun6zhxrhs64oiz")),
        ("parse_relay_did (web)", lambda: parse_relay_did("did:web:pds.example.com")),
        ("parse_tid", lambda: parse_tid("3jzfcijpj2z2a")),
        ("Tid.timestamp_us", lambda: tid.timestamp_us),
        ("tid_from_time", lambda: tid_from_time(1_700_000_000_000_000, 7)),
        ("parse_handle", lambda: parse_handle("alice.bsky.social")),
        ("parse_nsid", lambda: parse_nsid("app.bsky.feed.post")),
        ("parse_record_key", lambda: parse_record_key("3jzfcijpj2z2a")),
        ("parse_datetime", lambda: parse_datetime("2024-11-23T09:10:11.123Z")),
        (
            "parse_at_uri",
            lambda: parse_at_uri("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3jzfcijpj2z2a"),
        ),
    ]
    print("| operation | µs/op |")
    print("|---|---:|")
    for name, fn in rows:
        print(f"| {name} | {_us_per_op(fn):.2f} |")


if __name__ == "__main__":
    main()
