from __future__ import annotations

import pytest
from relay_indexer import xrpc_params as p
from relay_indexer.cursor_codec import encode_cursor
from relay_indexer.errors import XrpcError

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def invalid(fn, *args, **kwargs) -> XrpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(XrpcError) as info:
        fn(*args, **kwargs)
    assert info.value.name == "InvalidRequest" and info.value.status == 400
    return info.value


@pytest.mark.parametrize(("raw", "expected"), [(None, 500), ("", 500), ("1", 1), ("2000", 2000), ("77", 77)])
def test_limit_in_range(raw: str | None, expected: int) -> None:
    params = {} if raw is None else {"limit": raw}
    assert p.limit_param(params, default=500, maximum=2000) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "2001", "1e3", "abc", " 5", "+5", "5_0", "1.0", "٣"])
def test_limit_out_of_range_or_not_an_integer(raw: str) -> None:
    invalid(p.limit_param, {"limit": raw}, default=500, maximum=2000)


def test_did_is_required_and_parsed() -> None:
    assert p.did_param({"did": DID}) == DID
    assert "did" in invalid(p.did_param, {}).message
    invalid(p.did_param, {"did": ""})
    invalid(p.did_param, {"did": "not-a-did"})
    invalid(p.did_param, {"did": DID + " "})


def test_nsid_is_required_and_parsed() -> None:
    assert p.nsid_param({"collection": "com.example.fancy.thing"}, "collection") == "com.example.fancy.thing"
    invalid(p.nsid_param, {}, "collection")
    invalid(p.nsid_param, {"collection": "post"}, "collection")
    invalid(p.nsid_param, {"collection": "app.bsky.feed.post/abc"}, "collection")


def test_cursors() -> None:
    assert p.did_cursor_param({}) is None
    assert p.did_cursor_param({"cursor": encode_cursor(DID)}) == DID
    invalid(p.did_cursor_param, {"cursor": DID})  # a raw DID is not a cursor we issued
    assert p.int_cursor_param({"cursor": encode_cursor("12")}) == 12
    invalid(p.int_cursor_param, {"cursor": encode_cursor(DID)})


def test_optional_tid_and_hostname() -> None:
    assert p.optional_tid_param({}, "since") is None
    tid = p.optional_tid_param({"since": "3jzfcijpj2z2a"}, "since")
    assert tid is not None and tid.value == "3jzfcijpj2z2a"
    invalid(p.optional_tid_param, {"since": "nope"}, "since")
    assert p.hostname_param({"hostname": "PDS.Example.com"}) == "pds.example.com"
    invalid(p.hostname_param, {})
    invalid(p.hostname_param, {"hostname": "https://pds.example.com/"})
