"""CIDs as the strings the events and indexer protobufs carry (multibase base32, `b…`).

`str(Cid)` goes through `base64.b32encode`, which is pure Python in CPython 3.11 (~5.5 µs per
CID); the validator writes ~4–6 CID strings per verified commit, so it uses this table-driven
encoder (~2.5 µs, 15 bits per lookup), same output.
"""

from __future__ import annotations

from typing import Final

from relay_core.cid import CID_BYTES_LEN, Cid

__all__ = ["cid_text"]

_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
_TRIPLES: Final = tuple(
    _ALPHABET[i >> 10] + _ALPHABET[(i >> 5) & 31] + _ALPHABET[i & 31] for i in range(32768)
)
"""Every 15-bit value as its three base32 characters (~1.7 MiB, built once at import)."""
_PAD_BITS: Final = 12
"""36 bytes = 288 bits, padded to 300 = 20 lookups of 15 bits; the last 2 characters are padding."""
_SHIFTS: Final = tuple(range(CID_BYTES_LEN * 8 + _PAD_BITS - 15, -1, -15))
_TEXT_LEN: Final = 58
"""Characters of unpadded base32 for 36 bytes."""


def cid_text(cid: Cid) -> str:
    """`str(cid)`, faster: "b" + lower-case unpadded base32 of the 36 binary bytes."""
    n = int.from_bytes(cid.raw, "big") << _PAD_BITS
    triples = _TRIPLES
    return "b" + "".join([triples[(n >> shift) & 32767] for shift in _SHIFTS])[:_TEXT_LEN]
