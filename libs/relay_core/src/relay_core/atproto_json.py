"""atproto's JSON form of the data model: `{"$link": cid}`, `{"$bytes": base64}`, blobs.

Used by tests, fixtures and XRPC/debug output; the firehose itself is DAG-CBOR only. The checks
are the data model's, which are stricter than JSON: no floats, `$type` a non-empty string, and the
special objects have exactly their own keys.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from relay_core.cid import Cid, parse_cid_string
from relay_core.errors import InvalidData, InvalidSyntax

__all__ = ["from_atproto_json", "to_atproto_json"]


def _bad(message: str) -> InvalidData:
    return InvalidData(message, reason="bad_atproto_json")


def from_atproto_json(value: Any, *, top_level_object: bool = True) -> Any:
    """Convert parsed atproto JSON into data-model values (`Cid`, `bytes`, ...).

    Raises:
        InvalidData: floats, malformed `$link`/`$bytes`/blob objects, a bad `$type`, or (with
            `top_level_object`) a top level that is not an object.
    """
    if top_level_object and type(value) is not dict:
        raise _bad("top level must be an object")
    return _convert(value)


def _convert(value: Any) -> Any:
    if type(value) is dict:
        if "$link" in value:
            link = value["$link"]
            if len(value) != 1 or type(link) is not str:
                raise _bad("$link must be the only key and a string")
            try:
                return parse_cid_string(link)
            except InvalidSyntax as exc:
                raise _bad(f"bad $link: {exc}") from exc
        if "$bytes" in value:
            raw = value["$bytes"]
            if len(value) != 1 or type(raw) is not str:
                raise _bad("$bytes must be the only key and a string")
            try:
                return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
            except binascii.Error as exc:
                raise _bad("bad base64 in $bytes") from exc
        if "$type" in value:
            t = value["$type"]
            if type(t) is not str or not t:
                raise _bad("$type must be a non-empty string")
            if t == "blob":
                _check_blob(value)
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _bad("object keys must be strings")
            out[key] = _convert(item)
        return out
    if type(value) is list:
        return [_convert(item) for item in value]
    if type(value) is float:
        # NOTE: JSON cannot tell 123 from 123.0; the interop vectors accept integral floats.
        if value.is_integer():
            return int(value)
        raise _bad("floats are not allowed in the atproto data model")
    if value is None or type(value) in (str, int, bool):
        return value
    raise _bad(f"unsupported JSON value of type {type(value).__name__}")


def _check_blob(value: dict[str, Any]) -> None:
    ref = value.get("ref")
    if type(ref) is not dict or "$link" not in ref:
        raise _bad("blob ref must be a $link")
    if type(value.get("mimeType")) is not str:
        raise _bad("blob mimeType must be a string")
    if type(value.get("size")) is not int:
        raise _bad("blob size must be an integer")


def to_atproto_json(value: Any) -> Any:
    """Convert data-model values back into atproto JSON (`Cid` → `$link`, bytes → `$bytes`)."""
    if type(value) is dict:
        return {key: to_atproto_json(item) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
        return [to_atproto_json(item) for item in value]
    if type(value) is Cid:
        return {"$link": str(value)}
    if type(value) is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii").rstrip("=")}
    return value
