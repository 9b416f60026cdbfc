"""Commit signing keys for the builders: any `CommitSigner`, and `Signer`, a fast K-256 one."""

from __future__ import annotations

from typing import Protocol

import bitcurve

from relay_core.cid import Cid
from relay_core.commit import COMMIT_VERSION, Commit, unsigned_commit_bytes
from relay_core.keys import Curve, PublicKey
from relay_core.syntax.did import Did
from relay_core.syntax.tid import Tid

__all__ = ["CommitSigner", "Signer", "signed_commit"]

_NO_SIG = b"\0" * 64


class CommitSigner(Protocol):
    """What a builder signs with: `relay_core.keys.PrivateKey` (either curve) or `Signer`."""

    @property
    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """64-byte compact low-S signature over SHA-256(data)."""
        ...


class Signer:
    """A secp256k1 signing key kept as a live libsecp256k1 object.

    `PrivateKey.sign` rebuilds the library key on every call (about 70 µs); builders sign on the
    simulator's hot path, so this holds the object (about 33 µs per signature).
    """

    __slots__ = ("_key", "public_key")

    def __init__(self, secret: bytes) -> None:
        self._key = bitcurve.PrivateKey(secret)
        self.public_key = PublicKey(Curve.K256, self._key.public_key.format(compressed=True))

    @classmethod
    def generate(cls) -> Signer:
        """A fresh random key from the OS CSPRNG."""
        return cls(bitcurve.PrivateKey().secret)

    def sign(self, data: bytes) -> bytes:
        """64-byte compact low-S signature over SHA-256(data) (libsecp256k1 only makes low S)."""
        sig: bytes = self._key.sign_recoverable(data)[:64]
        return sig

    def __repr__(self) -> str:
        return f"Signer(public_key={self.public_key.did_key()!r})"


def signed_commit(did: Did, data: Cid, rev: Tid, signer: CommitSigner) -> Commit:
    """A v3 commit (`prev` null) over MST root `data` at `rev`, signed by `signer`."""
    unsigned = Commit(did=did, version=COMMIT_VERSION, data=data, rev=rev, prev=None, sig=_NO_SIG)
    sig = signer.sign(unsigned_commit_bytes(unsigned))
    return Commit(did=did, version=COMMIT_VERSION, data=data, rev=rev, prev=None, sig=sig)
