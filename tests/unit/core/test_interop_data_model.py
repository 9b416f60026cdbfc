"""atproto-interop-tests data-model vectors, and indigo's real #commit bodies through car/commit."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from relay_core.atproto_json import from_atproto_json, to_atproto_json
from relay_core.car import read_car
from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import Cid, parse_cid_string
from relay_core.commit import parse_commit
from relay_core.errors import InvalidData

SHARED = Path(os.environ.get("RELAY_SHARED_DIR") or Path(__file__).resolve().parents[4] / "shared")
DATA_MODEL = SHARED / "interop" / "data-model"
INDIGO = SHARED / "interop" / "indigo-testdata"


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((DATA_MODEL / name).read_text())
    return vectors


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("vector", _load("data-model-fixtures.json"), ids=lambda v: v["cid"][:16])
def test_fixture_json_cbor_cid_agree(vector: dict[str, Any]) -> None:
    cbor = _b64(vector["cbor_base64"])
    value = from_atproto_json(vector["json"])
    assert encode_dag_cbor(value) == cbor
    assert decode_dag_cbor(cbor) == value
    assert to_atproto_json(decode_dag_cbor(cbor)) == vector["json"]
    assert str(Cid.for_dag_cbor(cbor)) == vector["cid"]


@pytest.mark.parametrize("vector", _load("data-model-valid.json"), ids=lambda v: v["note"])
def test_valid_data_model(vector: dict[str, Any]) -> None:
    value = from_atproto_json(vector["json"])
    assert decode_dag_cbor(encode_dag_cbor(value)) == value


@pytest.mark.parametrize("vector", _load("data-model-invalid.json"), ids=lambda v: v["note"])
def test_invalid_data_model(vector: dict[str, Any]) -> None:
    with pytest.raises(InvalidData):
        from_atproto_json(vector["json"])


INDIGO_COMMITS = sorted((INDIGO / "atproto" / "repo" / "testdata").glob("firehose_commit_*.json"))


@pytest.mark.parametrize("path", INDIGO_COMMITS, ids=lambda p: p.stem)
def test_indigo_commit_bodies_parse(path: Path) -> None:
    body = from_atproto_json(json.loads(path.read_text()))
    car = read_car(body["blocks"], max_bytes=2_000_000, max_blocks=10_000)
    assert car.roots == (body["commit"],)
    commit = parse_commit(car.blocks[body["commit"]])
    assert commit.did == body["repo"]
    assert str(commit.rev) == body["rev"]
    for op in body["ops"]:
        if op["cid"] is not None:
            assert type(op["cid"]) is Cid


def test_greenground_repo_car() -> None:
    data = (INDIGO / "testing" / "testdata" / "greenground.repo.car").read_bytes()
    car = read_car(data, max_bytes=len(data), max_blocks=100)
    (root,) = car.roots
    commit = parse_commit(car.blocks[root])
    assert commit.version == 3
    assert commit.data in car.blocks


def test_divy_repo_is_legacy_v2() -> None:
    from relay_core.errors import InvalidCommit

    data = (INDIGO / "testing" / "testdata" / "divy.repo").read_bytes()
    car = read_car(data, max_bytes=len(data), max_blocks=100)
    with pytest.raises(InvalidCommit) as info:
        parse_commit(car.blocks[car.roots[0]])
    assert info.value.reason == "legacy_commit_version"


def test_fixture_cids_parse_as_strings() -> None:
    for vector in _load("data-model-fixtures.json"):
        assert str(parse_cid_string(vector["cid"])) == vector["cid"]
