"""A verification done ahead of `judge`, in a worker process, and the rule for when it applies.

`judge` verifies a `#commit`/`#sync` with inputs it settles only while judging (the identity
after a refresh, earlier keys after a key-history lookup, `strict` from the working state). A
`Precomputed` records the inputs a worker used; `judge` takes its outcome only when its own
inputs are the same, and otherwise verifies inline. Verification is a pure function of the
frame and those inputs, so a batch judged with precomputed outcomes gives exactly the verdicts
it would give inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast

from relay_core import errors
from relay_core.cid import Cid
from relay_core.errors import RelayError
from relay_core.fastinit import trusted_constructor
from relay_core.firehose.events import CommitEvent, SyncEvent
from relay_core.keys import PublicKey
from relay_core.syntax.tid import Tid, parse_tid

from relay_validator.decode import RelayedEvent
from relay_validator.verdict import Drop
from relay_validator.verify_worker import ERROR, OK, Outcome

__all__ = ["Precomputed", "VerifiedHead", "error_class", "from_outcome"]

_ERROR_CLASSES: Final[dict[str, type[RelayError]]] = {
    name: cls
    for name in errors.__all__
    if isinstance(cls := getattr(errors, name), type) and issubclass(cls, RelayError)
}


def error_class(name: str) -> type[RelayError] | None:
    """The relay_core error class a worker named (None for one this process does not know)."""
    return _ERROR_CLASSES.get(name)


@dataclass(frozen=True, slots=True)
class VerifiedHead:
    """What `judge` reads from a `VerifiedCommit`/`VerifiedSync`: the new head."""

    commit_cid: Cid
    data: Cid
    rev: Tid
    signed_by: PublicKey


@dataclass(frozen=True, slots=True)
class Precomputed:
    """The outcome of verifying one frame with `signing_key` (no earlier keys), `strict`, `now_us`."""

    signing_key: PublicKey
    strict: bool
    now_us: int
    head: VerifiedHead | None
    """Set when verification passed."""
    error: tuple[type[RelayError], str, str] | None = None
    """When it failed: the error's class, message and reason (a fresh exception per raise)."""

    def applies(
        self, signing_key: PublicKey, strict: bool, earlier_keys: Sequence[PublicKey], now_us: int
    ) -> bool:
        return (
            not earlier_keys
            and now_us == self.now_us
            and strict == self.strict
            and (signing_key is self.signing_key or signing_key == self.signing_key)
        )

    def outcome(self) -> VerifiedHead:
        """The verified head, or raises the error verification raised."""
        if self.head is not None:
            return self.head
        assert self.error is not None
        cls, message, reason = self.error
        raise cls(message, reason=reason)


_make_head = trusted_constructor(VerifiedHead)
_make_precomputed = trusted_constructor(Precomputed)
_new_cid = Cid._trusted


def from_outcome(
    decoded: RelayedEvent | Drop, signing_key: PublicKey, strict: bool, now_us: int, outcome: Outcome
) -> Precomputed | None:
    """A worker's outcome for `decoded` (verified with these inputs) as a `Precomputed`; None
    when the worker could not say (the event is then verified inline)."""
    if outcome[0] == OK:
        _, commit_raw, data_raw = cast(tuple[int, bytes, bytes], outcome)
        # Verification checked that the commit's rev is the event's (a TID for #sync too).
        if isinstance(decoded, CommitEvent):
            rev = decoded.rev
        elif isinstance(decoded, SyncEvent):
            rev = parse_tid(decoded.rev)
        else:
            return None
        # The CIDs are the worker's own output (hash-checked there), so trusted here.
        head = _make_head(_new_cid(commit_raw), _new_cid(data_raw), rev, signing_key)
        return _make_precomputed(signing_key, strict, now_us, head, None)
    if outcome[0] == ERROR:
        _, name, message, reason = cast(tuple[int, str, str, str], outcome)
        cls = error_class(name)
        return None if cls is None else Precomputed(signing_key, strict, now_us, None, (cls, message, reason))
    return None
