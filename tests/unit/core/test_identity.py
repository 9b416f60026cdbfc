from __future__ import annotations

import copy
from typing import Any

import pytest
from relay_core.errors import InvalidIdentity
from relay_core.identity import Identity, parse_did_document
from relay_core.keys import Curve, PrivateKey
from relay_core.syntax import Did, Handle

DID = Did("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
KEY = PrivateKey.generate(Curve.K256).public_key


def _doc() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "alsoKnownAs": ["at://Alice.Example.COM"],
        "verificationMethod": [
            {
                "id": f"{DID}#atproto",
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": KEY.multibase(),
            }
        ],
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://pds.example.com",
            }
        ],
    }


def _reason(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidIdentity) as info:
        parse_did_document(doc, DID)
    return info.value.reason


def test_typical_plc_document() -> None:
    assert parse_did_document(_doc(), DID) == Identity(
        did=DID, signing_key=KEY, pds_endpoint="https://pds.example.com", handle=Handle("alice.example.com")
    )


def test_relative_and_absolute_ids_both_match() -> None:
    doc = _doc()
    doc["verificationMethod"][0]["id"] = "#atproto"
    doc["service"][0]["id"] = f"{DID}#atproto_pds"
    identity = parse_did_document(doc, DID)
    assert identity.signing_key == KEY
    assert identity.pds_endpoint == "https://pds.example.com"


def test_other_verification_methods_are_skipped() -> None:
    doc = _doc()
    other = PrivateKey.generate(Curve.P256).public_key
    doc["verificationMethod"].insert(
        0, {"id": f"{DID}#other", "type": "Multikey", "publicKeyMultibase": other.multibase()}
    )
    assert parse_did_document(doc, DID).signing_key == KEY


def test_p256_signing_key() -> None:
    doc = _doc()
    p256 = PrivateKey.generate(Curve.P256).public_key
    doc["verificationMethod"][0]["publicKeyMultibase"] = p256.multibase()
    assert parse_did_document(doc, DID).signing_key == p256


def test_id_must_equal_did() -> None:
    doc = _doc()
    doc["id"] = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert _reason(doc) == "did_mismatch"
    doc.pop("id")
    assert _reason(doc) == "did_mismatch"


def test_missing_or_bad_signing_key() -> None:
    doc = _doc()
    doc["verificationMethod"][0]["id"] = "#atproto_label"
    assert _reason(doc) == "no_signing_key"
    doc.pop("verificationMethod")
    assert _reason(doc) == "no_signing_key"
    doc = _doc()
    doc["verificationMethod"][0]["publicKeyMultibase"] = "zNotAKey0"
    assert _reason(doc) == "bad_signing_key"
    doc = _doc()
    doc["verificationMethod"][0]["type"] = "Ed25519VerificationKey2020"
    assert _reason(doc) == "bad_signing_key"
    doc = _doc()
    del doc["verificationMethod"][0]["publicKeyMultibase"]
    assert _reason(doc) == "bad_signing_key"


def test_wrongly_shaped_lists() -> None:
    for field in ("verificationMethod", "alsoKnownAs"):
        doc = _doc()
        doc[field] = "not a list"
        assert _reason(doc) == "bad_document"


def test_pds_endpoint_absent_or_wrong_type_is_none() -> None:
    doc = _doc()
    doc["service"][0]["type"] = "SomethingElse"
    assert parse_did_document(doc, DID).pds_endpoint is None
    del doc["service"]
    assert parse_did_document(doc, DID).pds_endpoint is None


@pytest.mark.parametrize(
    "endpoint",
    ["http://localhost:2583", "https://pds.example.com/", "https://pds.example.com:8443"],
)
def test_pds_endpoint_accepts(endpoint: str) -> None:
    doc = _doc()
    doc["service"][0]["serviceEndpoint"] = endpoint
    assert parse_did_document(doc, DID).pds_endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://pds.example.com", "pds.example.com", "https://", "https://u:p@pds.example.com", "https://x.com?q=1",
     "https://x.com:99999", 42, {"uri": "https://x.com"}],
)  # fmt: skip
def test_pds_endpoint_rejects(endpoint: object) -> None:
    doc = _doc()
    doc["service"][0]["serviceEndpoint"] = endpoint
    assert _reason(doc) == "bad_pds_endpoint"


def test_handle_claims() -> None:
    doc = _doc()
    doc["alsoKnownAs"] = ["https://alice.example.com", "at://second.example.com", "at://third.example.com"]
    assert parse_did_document(doc, DID).handle == "second.example.com"
    doc["alsoKnownAs"] = ["at://not a handle", "at://later.example.com"]
    assert parse_did_document(doc, DID).handle is None  # only the first at:// entry counts
    doc["alsoKnownAs"] = []
    assert parse_did_document(doc, DID).handle is None
    del doc["alsoKnownAs"]
    assert parse_did_document(doc, DID).handle is None


def test_input_document_is_not_mutated() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    parse_did_document(doc, DID)
    assert doc == before
