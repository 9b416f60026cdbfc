"""The atproto interop vectors for string syntax and crypto, one test id per vector.

Format rules (shared/interop/README.md): one vector per line, skip empty lines and lines starting
with `#`, never strip whitespace (some invalid vectors have deliberate leading/trailing spaces).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from relay_core.errors import InvalidSignature, InvalidSyntax
from relay_core.identity import parse_did_document
from relay_core.keys import Curve, PrivateKey, b58decode, parse_did_key, parse_multibase_key
from relay_core.signatures import is_low_s, verify_signature
from relay_core.syntax import (
    Did,
    parse_at_identifier,
    parse_at_uri,
    parse_datetime,
    parse_did,
    parse_handle,
    parse_language,
    parse_nsid,
    parse_record_key,
    parse_tid,
)


def _shared_dir() -> Path:
    override = os.environ.get("RELAY_SHARED_DIR")
    candidates = [Path(override)] if override else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared")
    for candidate in candidates:
        if (candidate / "interop").is_dir():
            return candidate
    raise RuntimeError(f"interop vectors not found in {candidates}; set RELAY_SHARED_DIR")


INTEROP = _shared_dir() / "interop"
SYNTAX = INTEROP / "syntax"
CRYPTO = INTEROP / "crypto"

PARSERS: dict[str, Callable[[str], object]] = {
    "did": parse_did,
    "handle": parse_handle,
    "nsid": parse_nsid,
    "tid": parse_tid,
    "recordkey": parse_record_key,
    "aturi": parse_at_uri,
    "atidentifier": parse_at_identifier,
    "datetime": parse_datetime,
    "language": parse_language,
}


def _vectors(kind: str) -> Iterator[Any]:
    """(parser name, vector) params for every `<name>_<kind>.txt` file, id'd by file and line."""
    for name in PARSERS:
        path = SYNTAX / f"{name}_{kind}.txt"
        if not path.exists():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if line == "" or line.startswith("#"):
                continue
            yield pytest.param(name, line, id=f"{path.stem}:{lineno}")


def test_vector_files_are_found() -> None:
    """Guards against the parametrized tests silently collecting nothing."""
    assert len(list(_vectors("syntax_valid"))) > 200
    assert len(list(_vectors("syntax_invalid"))) > 250
    assert len(list(_vectors("parse_invalid"))) == 11


@pytest.mark.parametrize(("name", "vector"), list(_vectors("syntax_valid")))
def test_syntax_valid(name: str, vector: str) -> None:
    PARSERS[name](vector)


@pytest.mark.parametrize(("name", "vector"), list(_vectors("syntax_invalid")))
def test_syntax_invalid(name: str, vector: str) -> None:
    with pytest.raises(InvalidSyntax):
        PARSERS[name](vector)


@pytest.mark.parametrize(("name", "vector"), list(_vectors("parse_invalid")))
def test_parse_invalid(name: str, vector: str) -> None:
    """Syntactically fine, but a strict parser must refuse the value (e.g. month 13)."""
    with pytest.raises(InvalidSyntax) as info:
        PARSERS[name](vector)
    assert info.value.reason in {"impossible_datetime", "impossible_language"}


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _signature_fixtures() -> list[Any]:
    fixtures = json.loads((CRYPTO / "signature-fixtures.json").read_text())
    return [pytest.param(f, id=f"{f['algorithm']}-{'-'.join(f['tags']) or 'valid'}") for f in fixtures]


@pytest.mark.parametrize("fixture", _signature_fixtures())
def test_signature_fixture(fixture: dict[str, Any]) -> None:
    key = parse_did_key(fixture["publicKeyDid"])
    assert key.curve is {"ES256": Curve.P256, "ES256K": Curve.K256}[fixture["algorithm"]]
    assert parse_multibase_key(fixture["publicKeyMultibase"], fixture["didDocSuite"]) == key
    message = _b64(fixture["messageBase64"])
    signature = _b64(fixture["signatureBase64"])
    if fixture["validSignature"]:
        verify_signature(key, message, signature)
        assert is_low_s(key.curve, signature)
        return
    with pytest.raises(InvalidSignature) as info:
        verify_signature(key, message, signature)
    if "high-s" in fixture["tags"]:
        assert info.value.reason == "high_s"
        assert not is_low_s(key.curve, signature)
    if "der-encoded" in fixture["tags"]:
        assert info.value.reason == "bad_signature_length"


def _didkey_fixtures() -> list[Any]:
    params = []
    for curve, filename in ((Curve.K256, "w3c_didkey_K256.json"), (Curve.P256, "w3c_didkey_P256.json")):
        for i, fixture in enumerate(json.loads((CRYPTO / filename).read_text())):
            params.append(pytest.param(curve, fixture, id=f"{curve.value}-{i}"))
    return params


@pytest.mark.parametrize(("curve", "fixture"), _didkey_fixtures())
def test_didkey_fixture(curve: Curve, fixture: dict[str, str]) -> None:
    if "privateKeyBytesHex" in fixture:
        secret = bytes.fromhex(fixture["privateKeyBytesHex"])
    else:
        secret = b58decode(fixture["privateKeyBytesBase58"])
    private = PrivateKey.from_bytes(curve, secret)
    assert private.public_key.did_key() == fixture["publicDidKey"]
    parsed = parse_did_key(fixture["publicDidKey"])
    assert parsed == private.public_key
    assert parsed.curve is curve
    # The key derived from the private bytes verifies what that private key signs.
    verify_signature(parsed, b"interop", private.sign(b"interop"))


def test_greenground_did_document_gives_legacy_k256_key() -> None:
    path = INTEROP / "indigo-testdata" / "testing" / "testdata" / "greenground.didDoc.json"
    doc = json.loads(path.read_text())
    identity = parse_did_document(doc, Did("did:plc:wqgdnqlv2mwiio6pfchwtrff"))
    assert identity.signing_key.curve is Curve.K256
    assert identity.signing_key.compressed[0] in (2, 3)
    # The uncompressed legacy key must round-trip to the same point in Multikey form.
    assert parse_did_key(identity.signing_key.did_key()) == identity.signing_key
    assert identity.pds_endpoint == "https://bsky.social"
    assert identity.handle == "greenground.bsky.social"
