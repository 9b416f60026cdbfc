"""Key histories for `KeyHistory`: did:plc audit logs, parsed by `relay_core.key_history`.

Asked for only when a commit fails with the DID's current key and the caller suspects it is
behind a rotation, so answers are not cached; a semaphore of its own keeps these larger fetches
from taking every pooled connection away from document resolution.
"""

from __future__ import annotations

import asyncio
import logging

from relay_core.errors import InvalidSyntax, RelayError
from relay_core.key_history import KeyPeriod, parse_plc_audit_log
from relay_core.syntax import Did, did_method, parse_relay_did

from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.outcome import Failure
from relay_resolver.plc import PlcSource

__all__ = ["HistoryOutcome", "KeyHistoryLookup"]

logger = logging.getLogger(__name__)

HistoryOutcome = tuple[KeyPeriod, ...] | Failure


class KeyHistoryLookup:
    """Fetches and parses audit logs, at most `max_concurrent` at once.

    Args:
        plc: the did:plc source (its directory serves `/log/audit`).
        max_bytes: larger logs are answered INVALID_DOCUMENT.
        max_concurrent: audit-log requests on the network at once.
    """

    def __init__(self, plc: PlcSource, *, max_bytes: int, max_concurrent: int) -> None:
        self._plc = plc
        self._max_bytes = max_bytes
        self._slots = asyncio.Semaphore(max_concurrent)

    async def histories(self, raw_dids: list[str]) -> list[HistoryOutcome]:
        """One outcome per input DID, in order (duplicates fetched once)."""
        unique = list(dict.fromkeys(raw_dids))
        results = await asyncio.gather(*(self._one(raw) for raw in unique))
        by_did = dict(zip(unique, results, strict=True))
        return [by_did[raw] for raw in raw_dids]

    async def _one(self, raw: str) -> HistoryOutcome:
        try:
            did = parse_relay_did(raw)
        except InvalidSyntax as exc:
            return Failure(FailureKind.INVALID_DID, str(exc))
        if did_method(did) != "plc":
            return Failure(FailureKind.INVALID_DID, f"{did_method(did)} DIDs keep no key history")
        try:
            async with self._slots:
                log = await self._plc.fetch_audit_log(did, max_bytes=self._max_bytes)
            return parse_plc_audit_log(log, Did(did))
        except ResolutionFailed as exc:
            return Failure(exc.kind, str(exc))
        except RelayError as exc:
            return Failure(FailureKind.INVALID_DOCUMENT, f"{exc.reason}: {exc}")
        except Exception as exc:
            logger.exception("unexpected error fetching key history", extra={"did": did})
            return Failure(FailureKind.UNREACHABLE, f"internal error: {type(exc).__name__}")
