"""Readiness: named checks a service registers, evaluated for /readyz and gRPC health.

A check answers "can this process do its job right now?" (NATS connected, Postgres reachable,
resolver answering, or simply "the feature exists yet"). Liveness is separate and trivial.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["CheckResult", "Readiness", "ReadinessCheck", "ReadinessReport"]

logger = logging.getLogger(__name__)

_CHECK_TIMEOUT_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one readiness check; ``reason`` says what is missing when not ok."""

    ok: bool
    reason: str = ""


ReadinessCheck = Callable[[], CheckResult | Awaitable[CheckResult]]


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """All checks' results; ready only when every one is ok."""

    results: tuple[tuple[str, CheckResult], ...]

    @property
    def ready(self) -> bool:
        return all(result.ok for _, result in self.results)

    @property
    def reason(self) -> str:
        """The first failing check's reason (empty when ready)."""
        return next((r.reason or name for name, r in self.results if not r.ok), "")

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"ready": self.ready}
        if not self.ready:
            body["reason"] = self.reason
        body["checks"] = {name: {"ok": r.ok, "reason": r.reason} for name, r in self.results}
        return body


class Readiness:
    """Registry of readiness checks, evaluated concurrently with a timeout each."""

    def __init__(self) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self._shutting_down = False

    def add(self, name: str, check: ReadinessCheck) -> None:
        """Register ``check`` under ``name`` (replacing a previous one of that name)."""
        self._checks[name] = check

    def not_implemented(self, issue: int) -> None:
        """Mark the service as a shell whose behaviour a later issue builds."""
        reason = f"not implemented yet: issue #{issue}"
        self.add("implemented", lambda: CheckResult(False, reason))

    def mark_shutting_down(self) -> None:
        """From now on report not ready, so load balancers stop routing here."""
        self._shutting_down = True

    async def evaluate(self) -> ReadinessReport:
        if self._shutting_down:
            return ReadinessReport((("shutdown", CheckResult(False, "shutting down")),))
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(name, self._checks[name]) for name in names))
        return ReadinessReport(tuple(zip(names, results, strict=True)))

    @staticmethod
    async def _run(name: str, check: ReadinessCheck) -> CheckResult:
        try:
            outcome = check()
            if inspect.isawaitable(outcome):
                return await asyncio.wait_for(outcome, _CHECK_TIMEOUT_SECONDS)
            return outcome
        except TimeoutError:
            return CheckResult(False, f"{name}: check timed out")
        except Exception as exc:  # a broken check means "not ready", never a crashed probe
            logger.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            return CheckResult(False, f"{name}: {exc!r}")
