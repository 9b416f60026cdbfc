"""Every error the protocol core raises.

RelayError
├── InvalidSyntax            a string is not a valid DID/handle/NSID/TID/record key/AT-URI/datetime/CID
├── InvalidData              bytes are not strict DAG-CBOR, a valid CID, or a well-formed CAR
│   └── CidMismatch          a CAR block's bytes do not hash to its CID
├── InvalidKey               a did:key / publicKeyMultibase cannot be decoded
├── InvalidSignature         a signature is malformed (DER, high-S, wrong length) or does not verify
├── InvalidIdentity          a DID document lacks a usable signing key or PDS endpoint
├── InvalidMst               an MST node is malformed, or a partial tree lacks a node an operation needs
├── InvalidCommit            a commit object is malformed, or does not match its event
│   └── BrokenChain          sync v1.1: inverting the ops does not reproduce prevData
├── InvalidFrame             a subscribeRepos frame cannot be decoded (header, body, unknown op)
└── LimitExceeded            a size/count limit from the lexicons is exceeded

Every error carries a stable, bounded `reason` (used as a metric label) besides its message.
"""

from __future__ import annotations

__all__ = [
    "BrokenChain",
    "CidMismatch",
    "InvalidCommit",
    "InvalidData",
    "InvalidFrame",
    "InvalidIdentity",
    "InvalidKey",
    "InvalidMst",
    "InvalidSignature",
    "InvalidSyntax",
    "LimitExceeded",
    "RelayError",
]


class RelayError(Exception):
    """Root of the core's errors. `reason` is a short snake_case label from a bounded set."""

    default_reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason


class InvalidSyntax(RelayError, ValueError):
    default_reason = "bad_syntax"


class InvalidData(RelayError, ValueError):
    default_reason = "bad_data"


class CidMismatch(InvalidData):
    default_reason = "cid_mismatch"


class InvalidKey(RelayError, ValueError):
    default_reason = "bad_key"


class InvalidSignature(RelayError):
    default_reason = "bad_signature"


class InvalidIdentity(RelayError):
    default_reason = "bad_identity"


class InvalidMst(RelayError):
    default_reason = "bad_mst"


class InvalidCommit(RelayError):
    default_reason = "bad_commit"


class BrokenChain(InvalidCommit):
    default_reason = "broken_chain"


class InvalidFrame(RelayError):
    default_reason = "bad_frame"


class LimitExceeded(RelayError):
    default_reason = "limit_exceeded"
