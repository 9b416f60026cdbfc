"""Resequencing changes only seq, byte for byte, on real builder frames (and keeps raw bytes raw)."""

from __future__ import annotations

import pytest
from relay_core.builders import AccountBuilder
from relay_core.cbor import encode_dag_cbor
from relay_core.errors import InvalidFrame
from relay_core.firehose.frames import decode_frame, encode_error_frame, encode_frame
from relay_firehose.resequence import cbor_uint_length, encode_cbor_uint, resequence_frame


@pytest.fixture(scope="module")
def account() -> AccountBuilder:
    return AccountBuilder()


@pytest.mark.parametrize("new_seq", [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**62])
def test_commit_frame_changes_only_seq(account: AccountBuilder, new_seq: int) -> None:
    built = account.commit([account.post("hello")])
    frame = encode_frame("#commit", built.body)
    out = resequence_frame(frame, new_seq)
    expected_body = dict(built.body, seq=new_seq)
    assert out == encode_frame("#commit", expected_body)
    decoded = decode_frame(out)  # strict decode: still canonical DAG-CBOR
    assert decoded.body["seq"] == new_seq and decoded.body["blocks"] == built.body["blocks"]


def test_every_event_kind(account: AccountBuilder) -> None:
    account.commit([account.post()])
    for t, body in [
        ("#identity", account.identity_body()),
        ("#account", account.account_body(active=False, status="takendown")),
        ("#sync", account.sync_body()),
    ]:
        assert resequence_frame(encode_frame(t, body), 777) == encode_frame(t, dict(body, seq=777))


def test_byte_string_that_parses_as_a_cid_stays_bytes(account: AccountBuilder) -> None:
    # libipld alone would re-encode these raw bytes as a link; the length guard catches it.
    built = account.commit([account.post()])
    raw = bytes(built.commit_cid)  # a CID's binary form, as a plain byte string
    body = {"seq": 5, "did": account.did, "blocks": raw, "rev": str(built.rev), "time": built.time}
    frame = encode_frame("#sync", body)
    assert resequence_frame(frame, 6) == encode_frame("#sync", dict(body, seq=6))


def test_frames_without_seq_are_refused() -> None:
    with pytest.raises(InvalidFrame):
        resequence_frame(encode_frame("#info", {"name": "OutdatedCursor"}), 1)
    with pytest.raises(InvalidFrame):
        resequence_frame(encode_error_frame("FutureCursor"), 1)
    with pytest.raises(InvalidFrame):
        resequence_frame(b"\xff\x00", 1)
    with pytest.raises(InvalidFrame):
        resequence_frame(encode_dag_cbor({"op": 1, "t": "#commit"}) + encode_dag_cbor({"seq": "1"}), 1)


def test_uint_lengths() -> None:
    assert [cbor_uint_length(v) for v in (0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        5,
        5,
        9,
    ]
    for v in (0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32):
        assert len(encode_dag_cbor(v)) == cbor_uint_length(v)


def test_key_bytes_elsewhere_in_the_frame_take_the_decoding_path(account: AccountBuilder) -> None:
    # A record whose text holds the key's bytes: "seq" occurs twice, so no splice is attempted.
    built = account.commit([account.post("seq")])
    frame = encode_frame("#commit", built.body)
    assert frame.count(b"\x63seq") == 2
    for new_seq in (1, 300, 2**40):
        assert resequence_frame(frame, new_seq) == encode_frame("#commit", dict(built.body, seq=new_seq))


@pytest.mark.parametrize("old_seq", [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**62])
def test_splice_replaces_every_integer_width(account: AccountBuilder, old_seq: int) -> None:
    body = dict(account.identity_body(), seq=old_seq)
    frame = encode_frame("#identity", body)
    assert frame.count(b"\x63seq") == 1
    for new_seq in (0, 24, 70000, 2**33):
        assert resequence_frame(frame, new_seq) == encode_frame("#identity", dict(body, seq=new_seq))


def test_encode_cbor_uint_matches_the_codec() -> None:
    for v in (0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1):
        assert encode_cbor_uint(v) == encode_dag_cbor(v)
