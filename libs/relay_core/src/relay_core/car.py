"""CARv1 archives: the block bundles inside `#commit`/`#sync` events and `getRepo` responses.

We split the archive ourselves instead of using `libipld.decode_car`, because that function
neither verifies block hashes nor hands back the raw block bytes, and both matter: every block
is hashed against its CID here (a relay must never pass on a block under a false name), and the
bytes are kept so records are re-served and re-hashed without re-encoding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

import libipld

from relay_core.cbor import decode_dag_cbor, encode_dag_cbor
from relay_core.cid import CID_BYTES_LEN, Cid
from relay_core.errors import CidMismatch, InvalidData, LimitExceeded

__all__ = ["Car", "RawBlockMap", "read_car", "read_car_raw", "write_car"]

_MAX_HEADER_BYTES: Final = 64 * 1024
_BLESSED_PREFIXES: Final = frozenset((bytes((1, 0x71, 0x12, 32)), bytes((1, 0x55, 0x12, 32))))
_sha256 = hashlib.sha256
# `{roots: [link], version: 1}` in canonical DAG-CBOR (58 bytes, after its 1-byte length varint):
# map head, "roots", a 1-element array, the tag-42 link head; 36 CID bytes; "version", 1.
_ONE_ROOT_LEN: Final = bytes((58,))
_ONE_ROOT_HEAD: Final = b"\xa2\x65roots\x81\xd8\x2a\x58\x25\x00"
_ONE_ROOT_TAIL: Final = b"\x67version\x01"
_ONE_ROOT_END: Final = 1 + 58
_new_cid = Cid._trusted
_ipld_decode = libipld.decode_dag_cbor
_ipld_encode = libipld.encode_dag_cbor


@dataclass(frozen=True, slots=True)
class Car:
    """A parsed CARv1: its roots and every block, each already checked against its CID."""

    roots: tuple[Cid, ...]
    blocks: dict[Cid, bytes]


class RawBlockMap(Mapping[Cid, bytes]):
    """A read-only `Cid`-keyed view of a raw-CID-keyed block dict (no per-block `Cid` objects
    unless someone iterates)."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[bytes, bytes]) -> None:
        self.raw = raw

    def __getitem__(self, cid: Cid) -> bytes:
        if type(cid) is not Cid:
            raise KeyError(cid)
        return self.raw[cid.raw]

    def __contains__(self, cid: object) -> bool:
        return type(cid) is Cid and cid.raw in self.raw

    def __iter__(self) -> Iterator[Cid]:
        return map(_new_cid, self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned LEB128 varint (minimal form, at most 9 bytes); return (value, new pos)."""
    value = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise InvalidData("truncated CAR: varint runs past the end", reason="bad_car")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and shift:
                raise InvalidData("non-minimal varint in CAR", reason="bad_car")
            return value, pos
        shift += 7
        if shift >= 63:
            raise InvalidData("varint too long in CAR", reason="bad_car")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_car(data: bytes, *, max_bytes: int, max_blocks: int) -> Car:
    """Parse a CARv1, verifying the sha256 of every block against its CID.

    Args:
        data: the archive bytes.
        max_bytes: reject archives longer than this (checked before any parsing).
        max_blocks: reject archives with more blocks than this.

    Returns:
        The roots (in header order) and the blocks; a repeated block is kept once.

    Raises:
        LimitExceeded: the archive is larger than `max_bytes` or has more than `max_blocks` blocks.
        InvalidData: truncated input, a bad header, a non-blessed CID, or an empty section.
        CidMismatch: a block's bytes do not hash to its CID.
    """
    roots, blocks = read_car_raw(data, max_bytes=max_bytes, max_blocks=max_blocks)
    return Car(
        roots=tuple([_new_cid(root) for root in roots]),
        blocks={_new_cid(cid): block for cid, block in blocks.items()},
    )


def read_car_raw(data: bytes, *, max_bytes: int, max_blocks: int) -> tuple[list[bytes], dict[bytes, bytes]]:
    """`read_car` with CIDs left as their 36 binary bytes (the verification hot path).

    Same checks and errors as `read_car`; every CID returned is blessed.
    """
    size = len(data)
    if size > max_bytes:
        raise LimitExceeded(f"CAR is {size} bytes, limit {max_bytes}", reason="car_too_big")
    if data[1:14] == _ONE_ROOT_HEAD and data[:1] == _ONE_ROOT_LEN and data[50:59] == _ONE_ROOT_TAIL:
        # The canonical one-root header every event CAR has: exactly what `_read_header` accepts
        # for these bytes, read off without decoding.
        root = data[14:50]
        if root[:4] in _BLESSED_PREFIXES:
            roots = [root]
            pos = _ONE_ROOT_END
        else:
            roots, pos = _read_header_section(data, size)
    else:
        roots, pos = _read_header_section(data, size)

    blocks: dict[bytes, bytes] = {}
    count = 0
    sha256 = _sha256
    while pos < size:
        section_len = data[pos]
        if section_len < 0x80:  # one-byte varint: blocks under 128 bytes
            pos += 1
        elif 0 < (high := data[pos + 1] if pos + 1 < size else 0) < 0x80:  # two bytes: under 16 KiB
            section_len = (section_len & 0x7F) | high << 7
            pos += 2
        else:
            section_len, pos = _read_varint(data, pos)
        end = pos + section_len
        if end > size:
            raise InvalidData("truncated CAR: block runs past the end", reason="bad_car")
        if section_len <= CID_BYTES_LEN:
            # Blessed CIDs are 36 bytes; a shorter section is a foreign CID or has no data.
            raise InvalidData("CAR section too short for a CIDv1 sha256 and data", reason="bad_car")
        count += 1
        if count > max_blocks:
            raise LimitExceeded(f"CAR has more than {max_blocks} blocks", reason="car_too_many_blocks")
        cid_end = pos + CID_BYTES_LEN
        raw_cid = data[pos:cid_end]
        if raw_cid[:4] not in _BLESSED_PREFIXES:
            raise InvalidData(
                f"CAR block CID is not CIDv1 dag-cbor/raw sha256: {raw_cid[:4].hex()}", reason="bad_car"
            )
        block = data[cid_end:end]
        if sha256(block).digest() != raw_cid[4:]:
            raise CidMismatch(f"block does not hash to its CID {_new_cid(raw_cid)}")
        blocks[raw_cid] = block
        pos = end
    return roots, blocks


def _read_header_section(data: bytes, size: int) -> tuple[list[bytes], int]:
    """The roots and the offset of the first block section."""
    header_len, pos = _read_varint(data, 0)
    if header_len > _MAX_HEADER_BYTES or pos + header_len > size:
        raise InvalidData("truncated or oversized CAR header", reason="bad_car")
    return _read_header(data[pos : pos + header_len]), pos + header_len


def _read_header(raw: bytes) -> list[bytes]:
    """The header's roots as binary CIDs; `{version: 1, roots: [links]}` strictly."""
    try:
        header = _ipld_decode(raw)
        fast = _ipld_encode(header) == raw
    except (ValueError, RecursionError, OverflowError):
        fast = False
    if fast and type(header) is dict and len(header) == 2 and header.get("version") == 1:
        roots = header.get("roots")
        # After the round trip a 36-byte blessed value can only have been a link.
        if type(roots) is list and all(
            type(r) is bytes and len(r) == CID_BYTES_LEN and r[:4] in _BLESSED_PREFIXES for r in roots
        ):
            return roots
    # Anything unusual: the exact decoder gives the reference answer and error.
    obj = decode_dag_cbor(raw)
    if type(obj) is not dict or obj.get("version") != 1 or type(obj.get("roots")) is not list:
        raise InvalidData("CAR header must be {version: 1, roots: [...]}", reason="bad_car")
    if not all(type(root) is Cid for root in obj["roots"]):
        raise InvalidData("CAR roots must be CID links", reason="bad_car")
    return [root.raw for root in obj["roots"]]


def write_car(roots: Iterable[Cid], blocks: Mapping[Cid, bytes] | Iterable[tuple[Cid, bytes]]) -> bytes:
    """Serialize a CARv1 with the given roots and blocks, in the order given.

    Block bytes are written as they are; the caller is responsible for them matching their CIDs.
    """
    header = encode_dag_cbor({"roots": list(roots), "version": 1})
    parts = [_varint(len(header)), header]
    items = blocks.items() if isinstance(blocks, Mapping) else blocks
    for cid, block in items:
        parts.append(_varint(CID_BYTES_LEN + len(block)))
        parts.append(cid.raw)
        parts.append(block)
    return b"".join(parts)
