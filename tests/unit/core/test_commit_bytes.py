"""`commit_from_bytes` (the usual `#commit` read off its bytes) against the general decoder.

Whenever the byte-level reader answers, `parse_event(decode_frame(frame))` must give an equal
event with the same field types; when the general path rejects a frame, the reader must not
answer. Checked on real frames of every op shape and on every one-byte change of them.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from relay_core.builders import AccountBuilder, RecordWrite
from relay_core.cid import Cid
from relay_core.firehose.commit_bytes import commit_from_bytes
from relay_core.firehose.events import CommitEvent, decode_event, parse_event
from relay_core.firehose.frames import decode_frame, encode_frame

from tests.unit.core.test_decode_event import assert_same
from tests.unit.core.test_verify import build_commit_body

HEADER_LEN = len(encode_frame("#commit", {})) - 1  # the header, then an empty map's one byte
CID_A = Cid.for_dag_cbor(b"\xa0")
CID_B = Cid.for_raw(b"blob")


def _general(frame: bytes) -> Any:
    try:
        return parse_event(decode_frame(frame))
    except Exception as exc:
        return exc


def _check(frame: bytes) -> CommitEvent | None:
    fast = commit_from_bytes(frame, HEADER_LEN) if frame[:HEADER_LEN] == _HEADER else None
    if fast is not None:
        general = _general(frame)
        assert isinstance(general, CommitEvent), (frame.hex(), general)
        assert fast == general
        assert repr(fast) == repr(general)
        for name in CommitEvent.__slots__:
            a, b = getattr(fast, name), getattr(general, name)
            assert type(a) is type(b), name
            if type(a) is tuple:
                assert [type(x) for x in a] == [type(x) for x in b], name
                assert [repr(x) for x in a] == [repr(x) for x in b], name
    return fast


_HEADER = encode_frame("#commit", {})[:HEADER_LEN]


def _frames() -> list[bytes]:
    acc = AccountBuilder(seq=itertools.count(5))
    acc.commit([acc.post(f"seed {i}") for i in range(30)])
    first = next(iter(acc.tree.items()))[0]
    collection, rkey = first.split("/")
    frames = [
        acc.commit([acc.post("one")]).frame(),
        acc.commit([acc.post("a"), acc.post("b"), RecordWrite(collection, rkey, {"text": "edit"})]).frame(),
        acc.commit([RecordWrite(collection, rkey, None)]).frame(),
    ]
    for action in ("create", "update", "delete"):
        frames.append(encode_frame("#commit", build_commit_body(action=action)))
    variants: tuple[dict[str, Any], ...] = (
        {"since": None},
        {"prevData": None},
        {"blobs": [CID_A, CID_B]},
        {"seq": 0},
        {"seq": 23},
        {"seq": 24},
        {"seq": 255},
        {"seq": 256},
        {"seq": 70_000},
        {"seq": 2**40},
        {"tooBig": True},
        {"rebase": True},
        {"repo": "did:web:example.com"},
        {"repo": "did:plc:" + "a" * 300},
        {"blocks": b""},
        {"blocks": b"x" * 23},
        {"blocks": b"x" * 300},
        {"ops": []},
        {"time": "2024-02-29T23:59:59.999Z"},
        {"time": "2023-02-29T23:59:59.999Z"},
        {"time": "2023-11-14T24:00:00.000Z"},
        {"ops": [{"action": "create", "path": "a.b.c/x", "cid": CID_A, "prev": None}]},
        {"ops": [{"action": "update", "path": "a.b.c/x", "cid": CID_A, "prev": CID_B}]},
        {"ops": [{"action": "delete", "path": "a.b.c/x", "cid": None}]},
        {"ops": [{"action": "create", "path": "a.b.c/faction", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/xdprev", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/" + "x" * 600, "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a" * 318 + ".b.c/x", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b.c/..", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": "a.b-.c/x", "cid": CID_A}]},
        {"ops": [{"action": "create", "path": f"a.b.c/x{i}", "cid": CID_A} for i in range(23)]},
        {"ops": [{"action": "create", "path": f"a.b.c/x{i}", "cid": CID_A} for i in range(24)]},
    )
    for overrides in variants:
        frames.append(encode_frame("#commit", build_commit_body(**overrides)))
    frames.append(encode_frame("#commit", {k: v for k, v in build_commit_body().items() if k != "prevData"}))
    return frames


FRAMES = _frames()


def test_usual_frames_are_read_off_their_bytes() -> None:
    # The shapes real traffic has: the byte-level reader answers, and decode_event agrees.
    for frame in FRAMES[:6]:
        assert _check(frame) is not None
        assert_same(frame)


@pytest.mark.parametrize("n", range(len(FRAMES)))
def test_variants_agree(n: int) -> None:
    frame = FRAMES[n]
    _check(frame)
    assert_same(frame)
    for cut in (1, 2, 7, 40):
        _check(frame[:-cut])
    _check(frame + b"\x00")


@pytest.mark.parametrize("n", range(6))
def test_every_byte_changed(n: int) -> None:
    """Only the non-`blocks` bytes carry structure; each is changed four ways."""
    frame = FRAMES[n]
    blocks = parse_event(decode_frame(frame)).blocks  # type: ignore[union-attr]
    start = frame.index(blocks)
    answered = 0
    for i in itertools.chain(range(HEADER_LEN, start + 3), range(start + len(blocks) - 2, len(frame))):
        for new in {frame[i] ^ 0x01, frame[i] ^ 0x20, frame[i] ^ 0x80, (frame[i] + 1) % 256}:
            mutated = frame[:i] + bytes((new,)) + frame[i + 1 :]
            if _check(mutated) is not None:
                answered += 1
    assert answered  # some changes (a CID byte, a digit) leave a valid frame


def test_decode_event_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import relay_core.firehose.events as events

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("libipld path taken")

    monkeypatch.setattr(events, "_commit_from_ipld", fail)
    for frame in FRAMES[:6]:
        assert isinstance(decode_event(frame), CommitEvent)
