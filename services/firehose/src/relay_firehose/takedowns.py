"""Which accounts are taken down, so their events stay out of live and replayed streams.

The set is derived from the log itself (``#account`` events with status ``takendown`` add a DID,
an ``#account`` event with ``active`` true removes it), so every replica that has read the same
prefix of the stream hides the same events. An operator's ``ScrubAccount`` adds a DID directly
(and also deletes its events from the stream, so other replicas and restarts agree).
The ``#account`` events themselves are always served: consumers must learn of the takedown.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACCOUNT_KIND", "TakedownSet"]

ACCOUNT_KIND: Final = "account"


class TakedownSet:
    """The DIDs currently taken down; ``hides`` is on the hot path (one set lookup)."""

    def __init__(self) -> None:
        self._dids: set[str] = set()

    def __len__(self) -> int:
        return len(self._dids)

    def __contains__(self, did: object) -> bool:
        return did in self._dids

    def apply_account_event(self, did: str, *, active: bool, takendown: bool) -> None:
        """Fold one ``#account`` event in: takedown adds, reactivation removes, others keep."""
        if active:
            self._dids.discard(did)
        elif takendown:
            self._dids.add(did)

    def take_down(self, did: str) -> None:
        """Hide ``did`` now (operator scrub)."""
        self._dids.add(did)

    def hides(self, did: str, kind: str) -> bool:
        """Whether an event of ``kind`` by ``did`` must not be served."""
        return did in self._dids and kind != ACCOUNT_KIND
