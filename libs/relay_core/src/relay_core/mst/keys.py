"""MST keys: their height (layer) and the prefix compression between neighbours.

A key's layer is fixed by its SHA-256 alone, which is what makes the tree's shape independent of
insertion order: leading zero bits of the hash, two bits per layer (fanout 4).
"""

from __future__ import annotations

from hashlib import sha256

from relay_core.errors import InvalidMst

__all__ = [
    "MAX_KEY_BYTES",
    "common_prefix_len",
    "key_height",
    "key_height_bytes",
    "validate_key_bytes",
]

MAX_KEY_BYTES = 1024
"""The repository spec caps an MST key (``collection/rkey``) at 1024 bytes."""

# Bytes allowed in `collection/rkey`: NSID and record-key characters plus the one separator.
_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~.:/")


def key_height_bytes(key: bytes) -> int:
    """Layer of `key` given as bytes; the hot-path form used while walking nodes."""
    digest = sha256(key).digest()
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


def validate_key_bytes(key: bytes) -> None:
    """Reject keys that cannot be ``collection/rkey``.

    The check is structural (one separator, both halves non-empty, allowed characters, length)
    rather than full NSID grammar: the interop vectors use keys such as ``A0/374913``.

    Raises:
        InvalidMst: reason ``bad_key``.
    """
    if not key or len(key) > MAX_KEY_BYTES:
        raise InvalidMst(f"MST key length {len(key)} out of range", reason="bad_key")
    sep = key.find(b"/")
    if sep <= 0 or sep == len(key) - 1 or key.find(b"/", sep + 1) != -1:
        raise InvalidMst("MST key is not collection/rkey", reason="bad_key")
    if not _KEY_CHARS.issuperset(key):
        raise InvalidMst("MST key has characters outside the allowed set", reason="bad_key")
