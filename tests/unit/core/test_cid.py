from __future__ import annotations

import os
from pathlib import Path

import pytest
from relay_core.cid import Cid, check_cid_syntax, parse_cid_string
from relay_core.errors import InvalidData, InvalidSyntax

SHARED = Path(os.environ.get("RELAY_SHARED_DIR") or Path(__file__).resolve().parents[4] / "shared")


def _vectors(name: str) -> list[str]:
    text = (SHARED / "interop" / "syntax" / name).read_text()
    return [line for line in text.split("\n") if line and not line.startswith("#")]


@pytest.mark.parametrize("text", _vectors("cid_syntax_valid.txt"))
def test_cid_syntax_valid(text: str) -> None:
    assert check_cid_syntax(text) == text


@pytest.mark.parametrize("text", _vectors("cid_syntax_invalid.txt"))
def test_cid_syntax_invalid(text: str) -> None:
    with pytest.raises(InvalidSyntax):
        check_cid_syntax(text)
    with pytest.raises(InvalidSyntax):
        parse_cid_string(text)


def test_round_trip_and_identity() -> None:
    cid = Cid.for_dag_cbor(b"\xa0")
    assert str(cid).startswith("bafyrei")
    assert parse_cid_string(str(cid)) == cid
    assert Cid.from_bytes(cid.raw) == cid
    assert hash(Cid.from_bytes(cid.raw)) == hash(cid)
    assert cid.matches(b"\xa0") and not cid.matches(b"\xa1")
    assert str(Cid.for_raw(b"x")).startswith("bafkrei")
    with pytest.raises(AttributeError):
        cid.raw = b""  # type: ignore[misc]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x12\x20" + bytes(32),  # CIDv0
        b"\x01\x70\x12\x20" + bytes(32),  # dag-pb
        b"\x01\x71\x13\x40" + bytes(64),  # sha512
        b"\x01\x71\x12\x20" + bytes(31),  # short digest
        b"\x01\x71\x12\x20" + bytes(33),  # trailing byte
    ],
)
def test_from_bytes_rejects_non_blessed(raw: bytes) -> None:
    with pytest.raises(InvalidData):
        Cid.from_bytes(raw)


def test_parse_string_rejects_other_codecs_and_case() -> None:
    # A real CIDv1 but dag-pb: syntactically fine, not usable as an atproto link.
    with pytest.raises(InvalidSyntax):
        parse_cid_string("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
    cid = str(Cid.for_dag_cbor(b"\xa0"))
    with pytest.raises(InvalidSyntax):
        parse_cid_string(cid.upper())
    with pytest.raises(InvalidSyntax):
        parse_cid_string(cid[:-1] + "9")
