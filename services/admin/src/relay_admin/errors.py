"""Every error admin's operations raise; the servicer turns each into one gRPC status.

AdminError
├── InvalidInput        the operator's request is malformed     → INVALID_ARGUMENT
├── NotFound            it names a host/account the relay does not know → NOT_FOUND
├── Refused             the relay's state forbids it now         → FAILED_PRECONDITION
└── PeerError           a peer service failed the call           → its code, or UNAVAILABLE
                                                                    when it is down or too slow
"""

from __future__ import annotations

import grpc

__all__ = ["AdminError", "InvalidInput", "NotFound", "PeerError", "Refused"]


class AdminError(Exception):
    """Root of admin's errors; ``code`` is the gRPC status the operator receives."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidInput(AdminError, ValueError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(AdminError, LookupError):
    code = grpc.StatusCode.NOT_FOUND


class Refused(AdminError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PeerError(AdminError):
    """A peer answered a call with a non-OK status, or could not be reached.

    Unreachable and timed-out peers become UNAVAILABLE; a peer that does not implement the
    method yet stays UNIMPLEMENTED; a peer's PERMISSION_DENIED (e.g. the slurper refusing a
    banned host) becomes FAILED_PRECONDITION, so it is not mistaken for an auth failure; every
    other code (INVALID_ARGUMENT, NOT_FOUND, ...) is kept, and the message is prefixed with the
    peer's name so the operator knows who said it.
    """

    def __init__(self, peer: str, method: str, peer_code: grpc.StatusCode, details: str) -> None:
        self.peer = peer
        self.method = method
        self.peer_code = peer_code
        self.details = details
        if peer_code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            self.code = grpc.StatusCode.UNAVAILABLE
            message = f"{peer} unavailable ({peer_code.name} on {method}): {details}"
        elif peer_code is grpc.StatusCode.PERMISSION_DENIED:
            # The operator is authenticated; a peer refusing (a banned host) is the relay's state.
            self.code = grpc.StatusCode.FAILED_PRECONDITION
            message = f"{peer} {method} refused: {details}"
        elif peer_code is grpc.StatusCode.UNIMPLEMENTED:
            self.code = grpc.StatusCode.UNIMPLEMENTED
            message = f"{peer} does not implement {method} yet: {details}"
        else:
            self.code = peer_code
            message = f"{peer} {method}: {details}"
        super().__init__(message)
