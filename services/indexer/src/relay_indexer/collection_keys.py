"""Key and value layout of the RocksDB collection directory.

One keyspace, four key families told apart by their first byte. NUL separates the parts: neither a
DID nor an NSID may contain it, so a family's prefix scan never runs into a longer neighbour
(`C a.b.c NUL` never matches `a.b.cd`).

    C <collection> NUL <did>        -> b""          the listing: present iff the DID is listed
                                                    and not hidden. Sorted by (collection, DID),
                                                    so "DIDs after cursor X" is one seek.
    D <did> NUL <collection>        -> Entry        per (DID, collection) bookkeeping; the DID's
                                                    collections are one prefix scan (deletion,
                                                    hiding, reconciling).
    S <did>                         -> DidState     exactness, hidden flag, last applied rev.
    P <did> NUL <collection>        -> b""          a count we could not decide; a later repo
                                                    check settles it. Empty collection = the
                                                    whole repo (after a #sync).

Entry = flags byte (bit 0: listed) + big-endian signed 64-bit `low`, a lower bound of how many
records the DID holds in the collection (exact when the DID is exact). DidState = flags byte
(bit 0: exact, bit 1: hidden) + the last applied rev in UTF-8.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from relay_core.syntax import Did, Nsid

__all__ = [
    "CHECK_PREFIX",
    "ENTRY_PREFIX",
    "LISTING_PREFIX",
    "STATE_PREFIX",
    "DidState",
    "Entry",
    "check_key",
    "decode_entry",
    "decode_state",
    "did_checks_prefix",
    "did_entries_prefix",
    "encode_entry",
    "encode_state",
    "entry_key",
    "listing_key",
    "listing_prefix",
    "listing_seek_after",
    "split_check_key",
    "split_entry_key",
    "split_listing_key",
    "state_key",
]

LISTING_PREFIX = b"C"
ENTRY_PREFIX = b"D"
STATE_PREFIX = b"S"
CHECK_PREFIX = b"P"
_SEP = b"\x00"
_ENTRY = struct.Struct(">Bq")
_LISTED = 0x01
_EXACT = 0x01
_HIDDEN = 0x02


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index knows about one (DID, collection) pair.

    `low` is a lower bound of the DID's record count in the collection: creates add one, deletes
    take one, an update proves at least one. It may go to zero or below for a DID whose history we
    did not see from the start; that means "unknown", not "none".
    """

    listed: bool
    low: int


@dataclass(frozen=True, slots=True)
class DidState:
    """Per-DID facts: `exact` when every count is known (seen since the repo's first commit, or
    taken from a full repo walk), `hidden` while the account is not active, `rev` last applied."""

    exact: bool = False
    hidden: bool = False
    rev: str = ""


def listing_prefix(collection: Nsid) -> bytes:
    return LISTING_PREFIX + collection.encode() + _SEP


def listing_key(collection: Nsid, did: Did) -> bytes:
    return listing_prefix(collection) + did.encode()


def listing_seek_after(collection: Nsid, did: Did) -> bytes:
    """The smallest key strictly after `listing_key(collection, did)`."""
    return listing_key(collection, did) + _SEP


def split_listing_key(key: bytes) -> tuple[Nsid, Did]:
    collection, did = key[1:].split(_SEP, 1)
    return Nsid(collection.decode()), Did(did.decode())


def did_entries_prefix(did: Did) -> bytes:
    return ENTRY_PREFIX + did.encode() + _SEP


def entry_key(did: Did, collection: Nsid) -> bytes:
    return did_entries_prefix(did) + collection.encode()


def split_entry_key(key: bytes) -> tuple[Did, Nsid]:
    did, collection = key[1:].split(_SEP, 1)
    return Did(did.decode()), Nsid(collection.decode())


def state_key(did: Did) -> bytes:
    return STATE_PREFIX + did.encode()


def did_checks_prefix(did: Did) -> bytes:
    return CHECK_PREFIX + did.encode() + _SEP


def check_key(did: Did, collection: Nsid | None) -> bytes:
    return did_checks_prefix(did) + (collection.encode() if collection else b"")


def split_check_key(key: bytes) -> tuple[Did, Nsid | None]:
    did, collection = key[1:].split(_SEP, 1)
    return Did(did.decode()), Nsid(collection.decode()) if collection else None


def encode_entry(entry: Entry) -> bytes:
    return _ENTRY.pack(_LISTED if entry.listed else 0, entry.low)


def decode_entry(value: bytes) -> Entry:
    flags, low = _ENTRY.unpack(value)
    return Entry(listed=bool(flags & _LISTED), low=low)


def encode_state(state: DidState) -> bytes:
    flags = (_EXACT if state.exact else 0) | (_HIDDEN if state.hidden else 0)
    return bytes((flags,)) + state.rev.encode()


def decode_state(value: bytes) -> DidState:
    flags = value[0]
    return DidState(exact=bool(flags & _EXACT), hidden=bool(flags & _HIDDEN), rev=value[1:].decode())
