"""The RFC 6455 slice: handshake parsing, accept key (RFC example), server frames, client reader."""

from __future__ import annotations

import os

import pytest
from relay_firehose.websocket import (
    CloseCode,
    FrameReader,
    HandshakeError,
    Opcode,
    ProtocolError,
    accept_key,
    encode_binary,
    encode_close,
    encode_control,
    parse_handshake,
)

REQUEST = (
    b"GET /xrpc/com.atproto.sync.subscribeRepos?cursor=5 HTTP/1.1\r\nHost: relay\r\n"
    b"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nUser-Agent: test/1"
)


def masked(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    else:
        head += bytes((0x80 | 127,)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_handshake_parses_and_accepts_rfc_example() -> None:
    request = parse_handshake(REQUEST)
    assert request.path == "/xrpc/com.atproto.sync.subscribeRepos" and request.query == "cursor=5"
    assert request.headers["user-agent"] == "test/1"
    assert accept_key(request.websocket_key()) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    ("replace", "status"),
    [
        (b"Upgrade: websocket", 426),
        (b"Sec-WebSocket-Version: 13", 426),
        (b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", 400),
    ],
)
def test_handshake_refusals(replace: bytes, status: int) -> None:
    request = parse_handshake(REQUEST.replace(replace, b"X-Other: 1"))
    with pytest.raises(HandshakeError) as caught:
        request.websocket_key()
    assert caught.value.status == status


def test_malformed_request_line() -> None:
    with pytest.raises(HandshakeError):
        parse_handshake(b"GARBAGE")
    with pytest.raises(HandshakeError):
        parse_handshake(b"GET / SPDY/3\r\n")


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536])
def test_binary_frame_lengths(n: int) -> None:
    frame = encode_binary(b"x" * n)
    assert frame[0] == 0x82 and frame.endswith(b"x" * n)
    header = len(frame) - n
    assert header == (2 if n < 126 else 4 if n < 65536 else 10)


def test_control_frames() -> None:
    assert encode_control(Opcode.PING, b"hi") == b"\x89\x02hi"
    assert encode_close(CloseCode.GOING_AWAY, "bye") == b"\x88\x05\x03\xe9bye"
    with pytest.raises(ValueError):
        encode_control(Opcode.PING, b"x" * 126)


def test_reader_unmasks_and_splits_across_feeds() -> None:
    data = masked(Opcode.PING, b"abc") + masked(Opcode.CLOSE, b"\x03\xe8") + masked(Opcode.BINARY, b"z" * 300)
    reader = FrameReader()
    got = []
    for i in range(0, len(data), 3):
        got += reader.feed(data[i : i + 3])
    assert got == [(Opcode.PING, b"abc"), (Opcode.CLOSE, b"\x03\xe8"), (Opcode.BINARY, b"z" * 300)]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (bytes((0x89, 0x03)) + b"abc", CloseCode.PROTOCOL_ERROR),  # unmasked
        (bytes((0xC9, 0x80)) + b"\x00" * 4, CloseCode.PROTOCOL_ERROR),  # RSV1 set
        (bytes((0x83, 0x80)) + b"\x00" * 4, CloseCode.PROTOCOL_ERROR),  # reserved opcode
        (masked(Opcode.PING, b"x", fin=False), CloseCode.PROTOCOL_ERROR),  # fragmented control
        (masked(Opcode.BINARY, b"x" * 5000), CloseCode.MESSAGE_TOO_BIG),
    ],
)
def test_reader_refuses(data: bytes, code: CloseCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        FrameReader().feed(data)
    assert caught.value.code == code
