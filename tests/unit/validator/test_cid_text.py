from __future__ import annotations

import hashlib

from relay_core.cid import Cid
from relay_validator.cid_text import cid_text


def test_cid_text_equals_str_for_dag_cbor_and_raw_cids() -> None:
    for i in range(2000):
        data = hashlib.sha256(i.to_bytes(4, "big")).digest()[: i % 32]
        for cid in (Cid.for_dag_cbor(data), Cid.for_raw(data)):
            assert cid_text(cid) == str(cid)


def test_cid_text_of_extreme_digests() -> None:
    for digest in (b"\x00" * 32, b"\xff" * 32):
        cid = Cid(bytes((1, 0x71, 0x12, 32)) + digest)
        assert cid_text(cid) == str(cid)
