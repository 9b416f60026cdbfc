from __future__ import annotations

import base64

import pytest
from relay_indexer.cursor_codec import decode_did_cursor, decode_int_cursor, encode_cursor
from relay_indexer.errors import InvalidCursor


@pytest.mark.parametrize(
    "did", ["did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:web:example.com", "did:web:localhost%3A2583"]
)
def test_did_cursor_round_trips(did: str) -> None:
    cursor = encode_cursor(did)
    assert "=" not in cursor and ":" not in cursor
    assert decode_did_cursor(cursor) == did


@pytest.mark.parametrize("position", [0, 1, 42, 2**62])
def test_int_cursor_round_trips(position: int) -> None:
    assert decode_int_cursor(encode_cursor(str(position))) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "a",  # one base64 char is never a whole byte
        encode_cursor("did:plc:ewvi7nxzyoun6zhxrhs64oiz") + "==",  # padded: not what we issue
        encode_cursor("not a did"),
        encode_cursor("did:plc:"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "x" * 5000,
    ],
)
def test_bad_did_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_did_cursor(cursor)


@pytest.mark.parametrize("text", ["-1", "01", "1.5", "abc", " 1", "99999999999999999999", "١"])
def test_bad_int_cursors_are_refused(text: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_int_cursor(encode_cursor(text))


def test_a_did_cursor_is_not_an_int_cursor() -> None:
    with pytest.raises(InvalidCursor):
        decode_int_cursor(encode_cursor("did:web:example.com"))
