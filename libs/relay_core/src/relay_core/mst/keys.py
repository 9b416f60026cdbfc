"""MST keys: their height (layer) and the prefix compression between neighbours.

A key's layer is fixed by its SHA-256 alone, which is what makes the tree's shape independent of
insertion order: leading zero bits of the hash, two bits per layer (fanout 4).
"""

from __future__ import annotations

import re
from hashlib import sha256

from relay_core.errors import InvalidMst

__all__ = [
    "KEY_PATTERN",
    "MAX_KEY_BYTES",
    "common_prefix_bytes",
    "common_prefix_len",
    "key_height",
    "key_height_bytes",
    "validate_key_bytes",
]

MAX_KEY_BYTES = 1024
"""The repository spec caps an MST key (``collection/rkey``) at 1024 bytes."""

# `collection/rkey` from NSID and record-key characters; one regex call is the cheapest check.
KEY_PATTERN = rb"[A-Za-z0-9.\-_~:]+/[A-Za-z0-9.\-_~:]+"
"""Regex source (bytes) for one key's shape, shared with the node codec's bulk check."""
_KEY_SHAPE = re.compile(KEY_PATTERN).fullmatch


def key_height_bytes(key: bytes) -> int:
    """Layer of `key` given as bytes; the hot-path form used while walking nodes."""
    digest = sha256(key).digest()
    if digest[0] >= 0x40:  # three keys in four live on layer 0; skip the big-int work
        return 0
    # Leading zero bits of the 256-bit digest, two per layer.
    return (256 - int.from_bytes(digest, "big").bit_length()) >> 1


def key_height(key: str) -> int:
    """Layer of an MST key: leading zero bits of SHA-256(key), divided by two.

    Args:
        key: the key as text, e.g. ``app.bsky.feed.post/3jui7kd2z2y2e``.

    Returns:
        The layer the key lives on; 0 is the bottom of the tree.
    """
    return key_height_bytes(key.encode())


def common_prefix_len(left: str | bytes, right: str | bytes) -> int:
    """Length of the shared prefix of two keys, in bytes for bytes input and characters for text."""
    limit = min(len(left), len(right))
    i = 0
    while i < limit and left[i] == right[i]:
        i += 1
    return i


def common_prefix_bytes(left: bytes, right: bytes) -> int:
    """`common_prefix_len` for bytes without a per-byte Python loop (XOR as big integers)."""
    n = min(len(left), len(right))
    diff = int.from_bytes(left[:n], "big") ^ int.from_bytes(right[:n], "big")
    # The highest set bit of the XOR marks the first differing byte.
    return n - (diff.bit_length() + 7) // 8


def validate_key_bytes(key: bytes) -> None:
    """Reject keys that cannot be ``collection/rkey``.

    The check is structural (one separator, both halves non-empty, allowed characters, length)
    rather than full NSID grammar: the interop vectors use keys such as ``A0/374913``.

    Raises:
        InvalidMst: reason ``bad_key``.
    """
    if len(key) > MAX_KEY_BYTES or _KEY_SHAPE(key) is None:
        raise InvalidMst(f"MST key is not collection/rkey: {key[:80]!r}", reason="bad_key")
