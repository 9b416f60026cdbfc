"""Repo commit objects: the signed root of a repository (atproto repo spec, commit v3).

A commit is a DAG-CBOR map `{did, version: 3, data, rev, prev, sig}`. The signature covers the
same map without `sig`, re-encoded canonically; because DAG-CBOR has one encoding per value, the
unsigned bytes are rebuilt from the parsed fields rather than carved out of the block.

Unknown fields are refused: a commit with extra fields could not be re-encoded into the bytes its
author signed, so accepting one would mean either failing every signature check on it or keeping
opaque data nobody validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import libipld

from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import CID_BYTES_LEN, Cid
from relay_core.errors import InvalidCommit, InvalidData, InvalidSyntax
from relay_core.fastinit import trusted_constructor
from relay_core.keys import PrivateKey, PublicKey
from relay_core.signatures import verify_signature
from relay_core.syntax.did import Did, parse_did
from relay_core.syntax.tid import Tid, parse_tid

__all__ = [
    "COMMIT_VERSION",
    "Commit",
    "encode_commit",
    "parse_commit",
    "parse_signed_commit",
    "sign_commit",
    "unsigned_commit_bytes",
    "verify_commit_signature",
]

COMMIT_VERSION: Final = 3
_FIELDS: Final = frozenset(("did", "version", "data", "rev", "prev", "sig"))
_SIG_BYTES: Final = 64
_BLESSED_PREFIXES: Final = frozenset((bytes((1, 0x71, 0x12, 32)), bytes((1, 0x55, 0x12, 32))))
_ipld_decode = libipld.decode_dag_cbor
_ipld_encode = libipld.encode_dag_cbor
_new_cid = Cid._trusted
_LINK_HEAD: Final = rb"\xd8\x2a\x58\x25\x00"
# The canonical bytes of the usual commit, field by field in DAG-CBOR key order (did, rev, sig,
# data, prev, version): minimal heads only, a plain DID (the `parse_did` fast pattern), a TID, a
# dag-cbor `data` link. Every token after a head is fixed-size except the DID, whose head is
# checked against the matched length, so a match *is* the CBOR parse of the block.
_USUAL_SIGNED_COMMIT: Final = re.compile(
    rb"\xa6\x63did([\x60-\x77]|\x78[\x18-\xff])(did:[a-z]+:[a-zA-Z0-9._:-]*[a-zA-Z0-9._-])"
    rb"\x63rev\x6d([234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12})"
    rb"(\x63sig\x58\x40(.{64}))"
    rb"\x64data" + _LINK_HEAD + rb"(\x01\x71\x12\x20.{32})"
    rb"\x64prev(?:\xf6|" + _LINK_HEAD + rb"(\x01[\x71\x55]\x12\x20.{32}))"
    rb"\x67version\x03",
    re.DOTALL,
).fullmatch
_TEXT_HEADS: Final = tuple(bytes((0x60 + n,)) if n < 24 else bytes((0x78, n)) for n in range(256))


@dataclass(frozen=True, slots=True)
class Commit:
    """A parsed, structurally valid v3 commit (the signature is not checked by parsing)."""

    did: Did
    version: int
    data: Cid
    """Root CID of the repo's MST."""
    rev: Tid
    prev: Cid | None
    """Previous commit; virtually always null in v3 but the key must be present."""
    sig: bytes


_make_commit = trusted_constructor(Commit)
_make_tid = trusted_constructor(Tid)


def parse_commit(block: bytes) -> Commit:
    """Decode a commit block and check its v3 structure.

    Raises:
        InvalidCommit: reason `bad_commit_cbor`, `legacy_commit_version` (v2 and older),
            `bad_commit_version`, `commit_unknown_field`, or `bad_commit_field`.
    """
    try:
        obj = decode_dag_cbor(block)
    except InvalidData as exc:
        raise InvalidCommit(f"commit block is not DAG-CBOR: {exc}", reason="bad_commit_cbor") from exc
    if type(obj) is not dict:
        raise InvalidCommit("commit is not a map", reason="bad_commit_field")
    return _commit_from_map(obj)


def parse_signed_commit(block: bytes) -> tuple[Commit, bytes]:
    """`parse_commit` plus the unsigned bytes the signature covers, for verifying right away.

    The unsigned bytes are the decoded block minus `sig`, re-encoded: the block was just proven
    canonical, so this is exactly `unsigned_commit_bytes(commit)` without rebuilding the map.

    Raises:
        InvalidCommit: as `parse_commit`.
    """
    m = _USUAL_SIGNED_COMMIT(block)
    if m is not None:
        did_head, did, rev, _, sig, data, prev = m.groups()
        if len(did) < 256 and did_head == _TEXT_HEADS[len(did)]:
            # What the general path below returns for these bytes, without decoding them: the
            # unsigned map is the same entries minus `sig`, under a 5-entry map head.
            start, end = m.span(4)
            commit = _make_commit(
                did.decode(),
                COMMIT_VERSION,
                _new_cid(data),
                _make_tid(rev.decode()),
                None if prev is None else _new_cid(prev),
                sig,
            )
            return commit, b"\xa5" + block[1:start] + block[end:]
    try:
        obj = _ipld_decode(block)
        fast = _ipld_encode(obj) == block
    except (ValueError, RecursionError, OverflowError):
        fast = False
    if fast and type(obj) is dict:
        data, prev = obj.get("data"), obj.get("prev")
        # After the round trip, blessed 36-byte values can only have been links.
        if (
            type(data) is bytes
            and len(data) == CID_BYTES_LEN
            and data[:4] in _BLESSED_PREFIXES
            and (
                prev is None
                or (type(prev) is bytes and len(prev) == CID_BYTES_LEN and prev[:4] in _BLESSED_PREFIXES)
            )
        ):
            lifted = dict(obj)
            lifted["data"] = _new_cid(data)
            if prev is not None:
                lifted["prev"] = _new_cid(prev)
            commit = _commit_from_map(lifted)
            del obj["sig"]
            return commit, _ipld_encode(obj)
    commit = parse_commit(block)
    return commit, unsigned_commit_bytes(commit)


def _commit_from_map(obj: dict[str, Any]) -> Commit:
    """Check a decoded commit map (see `parse_commit`)."""
    version = obj.get("version")
    if type(version) is int and version < COMMIT_VERSION:
        raise InvalidCommit(f"legacy commit version {version}", reason="legacy_commit_version")
    if version != COMMIT_VERSION or type(version) is not int:
        raise InvalidCommit(f"unsupported commit version {version!r}", reason="bad_commit_version")
    if obj.keys() != _FIELDS:
        extra = sorted(obj.keys() - _FIELDS)
        if extra:
            raise InvalidCommit(f"unknown commit fields {extra}", reason="commit_unknown_field")
        raise InvalidCommit(
            f"missing commit fields {sorted(_FIELDS - obj.keys())}", reason="bad_commit_field"
        )
    did, data, rev, prev, sig = obj["did"], obj["data"], obj["rev"], obj["prev"], obj["sig"]
    if type(did) is not str or type(rev) is not str:
        raise InvalidCommit("commit did/rev must be strings", reason="bad_commit_field")
    if type(data) is not Cid or (prev is not None and type(prev) is not Cid):
        raise InvalidCommit("commit data/prev must be CID links", reason="bad_commit_field")
    if type(sig) is not bytes or len(sig) != _SIG_BYTES:
        raise InvalidCommit("commit sig must be 64 bytes", reason="bad_commit_field")
    try:
        return _make_commit(parse_did(did), version, data, parse_tid(rev), prev, sig)
    except InvalidSyntax as exc:
        raise InvalidCommit(f"bad commit did/rev: {exc}", reason="bad_commit_field") from exc


def _unsigned_map(did: str, data: Cid, rev: str, prev: Cid | None) -> dict[str, Any]:
    return {"did": did, "version": COMMIT_VERSION, "data": data, "rev": rev, "prev": prev}


def unsigned_commit_bytes(commit: Commit) -> bytes:
    """The canonical DAG-CBOR bytes the commit signature covers (the commit minus `sig`)."""
    return encode_dag_cbor(_unsigned_map(commit.did, commit.data, str(commit.rev), commit.prev))


def encode_commit(commit: Commit) -> bytes:
    """The canonical DAG-CBOR block of a signed commit (its CID is `Cid.for_dag_cbor` of this)."""
    fields = _unsigned_map(commit.did, commit.data, str(commit.rev), commit.prev)
    fields["sig"] = commit.sig
    return encode_dag_cbor(fields)


def sign_commit(*, did: Did, data: Cid, rev: Tid, prev: Cid | None, key: PrivateKey) -> Commit:
    """Build and sign a v3 commit (for builders, tests and the dev stack's fake PDS)."""
    unsigned = encode_dag_cbor(_unsigned_map(did, data, str(rev), prev))
    return Commit(did=did, version=COMMIT_VERSION, data=data, rev=rev, prev=prev, sig=key.sign(unsigned))


def verify_commit_signature(commit: Commit, key: PublicKey) -> None:
    """Check the commit's signature against the account's current signing key.

    Raises:
        InvalidSignature: the signature is malformed (high-S, wrong length) or does not verify.
    """
    verify_signature(key, unsigned_commit_bytes(commit), commit.sig)
