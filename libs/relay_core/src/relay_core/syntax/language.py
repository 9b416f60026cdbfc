"""Language tags (BCP 47 / RFC 5646), as used in record `langs` fields.

The relay does not validate records, so this exists for tools and completeness. `parse_language`
walks the subtags once: the grammar check (`bad_language`) and the two rules a strict parser adds
(`impossible_language`: a variant or an extension singleton must not repeat, case-insensitively).
The primary language subtag must be 2-3 lower-case letters (atproto's profile, which rejects the
reserved 4-letter and registered 5-8 letter forms); other subtags are case-insensitive.
"""

from __future__ import annotations

import re
from typing import NewType, NoReturn

from relay_core.errors import InvalidSyntax

__all__ = ["Language", "parse_language"]

Language = NewType("Language", str)
"""A string that passed `parse_language`."""

_MAX_LANGUAGE_LENGTH = 128

# RFC 5646 "grandfathered" tags that do not fit the generic grammar.
_IRREGULAR = frozenset(
    {
        "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux",
        "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-be-fr", "sgn-be-nl",
        "sgn-ch-de",
    }
)  # fmt: skip

_PRIMARY = re.compile(r"[a-z]{2,3}")
_EXTLANG = re.compile(r"[a-zA-Z]{3}")
_SCRIPT = re.compile(r"[a-zA-Z]{4}")
_REGION = re.compile(r"[a-zA-Z]{2}|[0-9]{3}")
_VARIANT = re.compile(r"[a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}")
_SINGLETON = re.compile(r"[0-9a-wyzA-WYZ]")
_EXTENSION_PART = re.compile(r"[a-zA-Z0-9]{2,8}")
_PRIVATE_PART = re.compile(r"[a-zA-Z0-9]{1,8}")


def parse_language(raw: str) -> Language:
    """Check a BCP 47 language tag.

    Raises:
        InvalidSyntax: reason `bad_language` or `impossible_language`.
    """
    if len(raw) > _MAX_LANGUAGE_LENGTH or not raw.isascii():
        raise InvalidSyntax(f"not a language tag: {raw[:64]!r}", reason="bad_language")
    if raw.lower() in _IRREGULAR:
        return Language(raw)
    subtags = raw.split("-")
    if subtags[0] in ("x", "X"):
        _check_private_use(raw, subtags, 1)
        return Language(raw)
    if _PRIMARY.fullmatch(subtags[0]) is None:
        _bad(raw)
    i = 1
    n = len(subtags)
    extlangs = 0
    while i < n and extlangs < 3 and _EXTLANG.fullmatch(subtags[i]):
        i += 1
        extlangs += 1
    if i < n and _SCRIPT.fullmatch(subtags[i]):
        i += 1
    if i < n and _REGION.fullmatch(subtags[i]):
        i += 1
    variants: set[str] = set()
    while i < n and _VARIANT.fullmatch(subtags[i]):
        variant = subtags[i].lower()
        if variant in variants:
            raise InvalidSyntax(f"repeated variant {variant!r} in {raw!r}", reason="impossible_language")
        variants.add(variant)
        i += 1
    singletons: set[str] = set()
    while i < n and _SINGLETON.fullmatch(subtags[i]):
        singleton = subtags[i].lower()
        if singleton in singletons:
            raise InvalidSyntax(f"repeated extension {singleton!r} in {raw!r}", reason="impossible_language")
        singletons.add(singleton)
        i += 1
        start = i
        while i < n and _EXTENSION_PART.fullmatch(subtags[i]):
            i += 1
        if i == start:
            _bad(raw)
    if i < n and subtags[i] in ("x", "X"):
        _check_private_use(raw, subtags, i + 1)
        return Language(raw)
    if i != n:
        _bad(raw)
    return Language(raw)


def _check_private_use(raw: str, subtags: list[str], start: int) -> None:
    rest = subtags[start:]
    if not rest or any(_PRIVATE_PART.fullmatch(part) is None for part in rest):
        _bad(raw)


def _bad(raw: str) -> NoReturn:
    raise InvalidSyntax(f"not a language tag: {raw[:64]!r}", reason="bad_language")
