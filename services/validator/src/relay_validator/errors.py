"""Errors of the validator service.

ValidatorError
└── DependencyUnavailable     the resolver or indexer could not be reached (transport failure);
                              the partition retries the batch later, acking nothing meanwhile

Per-event problems are not exceptions here: `judge` returns a `Drop` with a bounded reason.
"""

from __future__ import annotations

__all__ = ["DependencyUnavailable", "ValidatorError"]


class ValidatorError(Exception):
    """Root of the validator's own errors."""


class DependencyUnavailable(ValidatorError):
    """A gRPC peer failed at the transport level; `dependency` is "resolver" or "indexer"."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency
