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


def _section(block: bytes) -> bytes:
    return Cid.for_dag_cbor(block).raw + block


@pytest.mark.parametrize("size", [1, 90, 91, 92, 200, 16_000, 16_347, 16_348, 20_000])
def test_block_lengths_across_varint_sizes(size: int) -> None:
    """Sections under 128 bytes, then 2-byte lengths (inlined), then 3-byte ones."""
    block = encode_dag_cbor(b"x" * size)
    data = write_car([ROOT], {Cid.for_dag_cbor(block): block})
    assert read_car(data, max_bytes=len(data), max_blocks=1).blocks == {Cid.for_dag_cbor(block): block}


def test_non_minimal_two_byte_section_length() -> None:
    section = _section(encode_dag_cbor({"n": 1}))
    assert len(section) < 0x80
    head = write_car([ROOT], {})
    with pytest.raises(InvalidData):
        read_car(head + bytes((len(section) | 0x80, 0)) + section, max_bytes=1000, max_blocks=5)


def test_section_length_cut_after_its_first_byte() -> None:
    head = write_car([ROOT], {})
    with pytest.raises(InvalidData):
        read_car(head + b"\x81", max_bytes=1000, max_blocks=5)


@pytest.mark.parametrize(
    ("roots", "expected"),
    [
        ([ROOT], (ROOT,)),
        ([Cid.for_raw(b"x")], (Cid.for_raw(b"x"),)),
        ([ROOT, Cid.for_raw(b"x")], (ROOT, Cid.for_raw(b"x"))),
        ([], ()),
    ],
)
def test_header_roots(roots: list[Cid], expected: tuple[Cid, ...]) -> None:
    data = write_car(roots, BLOCKS)
    assert read_car(data, max_bytes=len(data), max_blocks=5).roots == expected


def test_one_root_header_with_a_foreign_cid() -> None:
    """The one-root header's shape around a CID that is not blessed: refused, not read off."""
    data = bytearray(write_car([ROOT], BLOCKS))
    assert data[14:18] == b"\x01\x71\x12\x20"
    data[15] = 0x70  # dag-pb
    with pytest.raises(InvalidData):
        read_car(bytes(data), max_bytes=len(data), max_blocks=5)


def test_header_byte_mutations_are_refused_or_read_exactly() -> None:
    """Every single-byte change in a one-root header: refused as bad data, or (when the change
    lands in the root CID's digest) read with exactly that root."""
    data = write_car([ROOT], BLOCKS)
    for pos in range(data[0] + 1):
        for value in {data[pos] ^ 1, data[pos] ^ 0x80, 0}:
            if value == data[pos]:
                continue
            mutated = data[:pos] + bytes((value,)) + data[pos + 1 :]
            try:
                car = read_car(mutated, max_bytes=len(data) + 10, max_blocks=5)
            except InvalidData:
                continue
            assert 18 <= pos < 50, pos
            assert car.roots == (Cid.from_bytes(mutated[14:50]),)
