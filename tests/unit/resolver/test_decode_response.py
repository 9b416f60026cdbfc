from __future__ import annotations

import json

import pytest
from relay_resolver.errors import FailureKind, ResolutionFailed
from relay_resolver.http_client import decode_response

LIMIT = 64 * 1024


def test_document_at_the_limit_is_accepted() -> None:
    doc = {"id": "did:plc:x", "pad": ""}
    doc["pad"] = "a" * (LIMIT - len(json.dumps(doc)))
    body = json.dumps(doc).encode()
    assert len(body) == LIMIT
    assert decode_response(200, body, LIMIT)["id"] == "did:plc:x"


def test_document_over_the_limit_is_invalid() -> None:
    body = json.dumps({"pad": "a" * LIMIT}).encode()
    with pytest.raises(ResolutionFailed, match="exceeds") as info:
        decode_response(200, body, LIMIT)
    assert info.value.kind is FailureKind.INVALID_DOCUMENT


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, b"", FailureKind.NOT_FOUND),
        (410, b"", FailureKind.TOMBSTONED),
        (429, b"", FailureKind.UNREACHABLE),
        (503, b"", FailureKind.UNREACHABLE),
        (302, b"", FailureKind.INVALID_DOCUMENT),
        (400, b"", FailureKind.INVALID_DOCUMENT),
        (200, b"not json", FailureKind.INVALID_DOCUMENT),
        (200, b"\xff\xfe", FailureKind.INVALID_DOCUMENT),
        (200, b"[1, 2]", FailureKind.INVALID_DOCUMENT),
    ],
)
def test_status_and_body_mapping(status: int, body: bytes, kind: FailureKind) -> None:
    with pytest.raises(ResolutionFailed) as info:
        decode_response(status, body, LIMIT)
    assert info.value.kind is kind
