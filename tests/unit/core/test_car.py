from __future__ import annotations

import pytest
from relay_core.car import read_car, write_car
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.errors import CidMismatch, InvalidData, LimitExceeded

BLOCKS = {Cid.for_dag_cbor(b): b for b in (encode_dag_cbor({"n": i}) for i in range(5))}
ROOT = next(iter(BLOCKS))


def test_round_trip() -> None:
    data = write_car([ROOT], BLOCKS)
    car = read_car(data, max_bytes=len(data), max_blocks=5)
    assert car.roots == (ROOT,)
    assert car.blocks == BLOCKS


def test_tampered_block_is_cid_mismatch() -> None:
    data = bytearray(write_car([ROOT], BLOCKS))
    data[-1] ^= 1
    with pytest.raises(CidMismatch):
        read_car(bytes(data), max_bytes=len(data), max_blocks=5)


def test_every_truncation_is_invalid() -> None:
    data = write_car([ROOT], BLOCKS)
    boundaries = set()
    pos = len(data)
    for block in reversed(list(BLOCKS.values())):
        pos -= len(block) + 37
        boundaries.add(pos)
    for cut in range(len(data)):
        if cut in boundaries:
            continue  # a cut on a section boundary is a valid, shorter CAR
        with pytest.raises(InvalidData):
            read_car(data[:cut], max_bytes=len(data), max_blocks=5)


def test_limits() -> None:
    data = write_car([ROOT], BLOCKS)
    with pytest.raises(LimitExceeded):
        read_car(data, max_bytes=len(data) - 1, max_blocks=5)
    with pytest.raises(LimitExceeded):
        read_car(data, max_bytes=len(data), max_blocks=4)


@pytest.mark.parametrize(
    "header",
    [{"roots": [], "version": 2}, {"roots": "x", "version": 1}, {"roots": [b"x"], "version": 1}, [1]],
)
def test_bad_headers(header: object) -> None:
    raw = encode_dag_cbor(header)
    data = bytes([len(raw)]) + raw
    with pytest.raises(InvalidData):
        read_car(data, max_bytes=1000, max_blocks=5)


def test_foreign_cid_in_section() -> None:
    block = b"\xa0"
    section = b"\x01\x70\x12\x20" + Cid.for_dag_cbor(block).digest + block
    data = write_car([ROOT], {}) + bytes([len(section)]) + section
    with pytest.raises(InvalidData):
        read_car(data, max_bytes=1000, max_blocks=5)


def test_non_minimal_varint() -> None:
    data = write_car([ROOT], {})
    with pytest.raises(InvalidData):
        read_car(bytes([data[0] | 0x80, 0]) + data[1:], max_bytes=1000, max_blocks=5)
