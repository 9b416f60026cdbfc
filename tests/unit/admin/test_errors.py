"""How a peer's failure reaches the operator."""

from __future__ import annotations

import grpc
import pytest
from relay_admin.errors import PeerError


@pytest.mark.parametrize(
    ("peer_code", "code", "text"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.UNAVAILABLE,
            "indexer unavailable (UNAVAILABLE on GetHost)",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNAVAILABLE,
            "indexer unavailable (DEADLINE_EXCEEDED",
        ),
        (
            grpc.StatusCode.UNIMPLEMENTED,
            grpc.StatusCode.UNIMPLEMENTED,
            "indexer does not implement GetHost yet",
        ),
        (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION, "indexer GetHost refused"),
        (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.NOT_FOUND, "indexer GetHost: why"),
        (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INVALID_ARGUMENT, "indexer GetHost: why"),
    ],
)
def test_peer_codes_map_to_operator_codes_naming_the_peer(
    peer_code: grpc.StatusCode, code: grpc.StatusCode, text: str
) -> None:
    error = PeerError("indexer", "GetHost", peer_code, "why")
    assert error.code is code
    assert text in str(error)
    assert str(error).endswith("why")
