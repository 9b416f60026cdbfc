from __future__ import annotations

import pytest
from relay_core.cbor import encode_dag_cbor
from relay_core.firehose.frames import encode_error_frame, encode_frame
from relay_slurper.errors import UpstreamError
from relay_slurper.frame_peek import FrameKind, SeqGuard, peek_frame

MAX = 5_000_000


def test_event_frames_yield_type_and_seq() -> None:
    peeked = peek_frame(
        encode_frame("#commit", {"seq": 42, "repo": "did:plc:x", "blocks": b"\x00"}), max_bytes=MAX
    )
    assert (peeked.kind, peeked.type, peeked.seq) == (FrameKind.EVENT, "#commit", 42)
    future_type = peek_frame(encode_frame("#somethingNew", {"seq": 7}), max_bytes=MAX)
    assert (future_type.kind, future_type.seq) == (FrameKind.EVENT, 7)


def test_info_and_error_frames() -> None:
    info = peek_frame(encode_frame("#info", {"name": "OutdatedCursor", "message": "old"}), max_bytes=MAX)
    assert (info.kind, info.error, info.seq) == (FrameKind.INFO, "OutdatedCursor", 0)
    error = peek_frame(encode_error_frame("FutureCursor", "too far"), max_bytes=MAX)
    assert (error.kind, error.error, error.message) == (FrameKind.ERROR, "FutureCursor", "too far")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encode_dag_cbor({"op": 2, "t": "#commit"}) + encode_dag_cbor({"seq": 1}), "bad_frame"),
        (encode_dag_cbor({"op": 1}) + encode_dag_cbor({"seq": 1}), "bad_frame"),
        (b"\xff\x00garbage", "bad_frame"),
        (encode_dag_cbor({"op": 1, "t": "#commit"}), "bad_frame"),
        (encode_frame("#commit", {"repo": "did:plc:x"}), "missing_seq"),
        (encode_frame("#commit", {"seq": "1"}), "missing_seq"),
        (encode_frame("#commit", {"seq": -1}), "missing_seq"),
    ],
)
def test_malformed_frames_end_the_connection(data: bytes, reason: str) -> None:
    with pytest.raises(UpstreamError) as info:
        peek_frame(data, max_bytes=MAX)
    assert info.value.reason == reason


def test_oversized_frames_are_refused_before_decoding() -> None:
    with pytest.raises(UpstreamError) as info:
        peek_frame(encode_frame("#commit", {"seq": 1, "blocks": b"x" * 2000}), max_bytes=1000)
    assert info.value.reason == "frame_too_big"


def test_seq_guard_admits_only_increasing_seqs() -> None:
    guard = SeqGuard(10)
    assert [guard.admit(s) for s in (9, 10, 11, 11, 13, 12, 14)] == [
        False,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    fresh = SeqGuard(None)
    assert fresh.admit(0) and fresh.admit(1) and not fresh.admit(1)
