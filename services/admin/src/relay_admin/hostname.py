"""Operator input that names hosts, domains and accounts, parsed before any peer is called.

The rules follow the slurper's (a host is a handle-shaped DNS name, lower case, without scheme,
path or port; ``localhost:PORT`` only in dev mode) so a name admin accepts is one the slurper and
indexer key their rows by. Refusing early gives the operator INVALID_ARGUMENT with the reason
instead of a peer's less specific answer.
"""

from __future__ import annotations

import re
from typing import Final

from relay_core.errors import InvalidSyntax
from relay_core.syntax import Did, normalize_handle, parse_did

from relay_admin.errors import InvalidInput

__all__ = ["host_under_domain", "parse_account_did", "parse_domain", "parse_hostname"]

_LOCALHOST: Final = "localhost"
_LABEL_RE: Final = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_MAX_INPUT: Final = 300


def _clean(raw: str, what: str) -> str:
    text = raw.strip().lower().rstrip(".")
    if not text:
        raise InvalidInput(f"{what} is required")
    if len(text) > _MAX_INPUT:
        raise InvalidInput(f"{what} is too long ({len(text)} characters)")
    if "://" in text or any(c in text for c in "/?#@[] "):
        raise InvalidInput(f"{what} must be a bare hostname, not {raw[:80]!r}")
    return text


def parse_hostname(raw: str, *, dev_mode: bool) -> str:
    """The stored form of a host's name (``pds.example.com``, dev: ``localhost:2583``).

    Raises:
        InvalidInput: empty, a URL, a port outside dev ``localhost``, or not a DNS name.
    """
    text = _clean(raw, "hostname")
    name, sep, port = text.partition(":")
    if sep:
        if not (dev_mode and name == _LOCALHOST):
            raise InvalidInput(f"ports are only allowed on localhost in dev mode: {raw[:80]!r}")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidInput(f"bad port in {raw[:80]!r}")
        return f"{_LOCALHOST}:{int(port)}"
    try:
        return str(normalize_handle(name))
    except InvalidSyntax as exc:
        raise InvalidInput(f"not a hostname: {raw[:80]!r} ({exc})") from exc


def parse_domain(raw: str) -> str:
    """A domain suffix to ban: a DNS name, or a single label (a TLD such as ``test``).

    Raises:
        InvalidInput: empty, a URL, with a port, or a label that DNS does not allow.
    """
    text = _clean(raw, "domain")
    if ":" in text:
        raise InvalidInput(f"a domain has no port: {raw[:80]!r}")
    if "." not in text:
        if not _LABEL_RE.match(text):
            raise InvalidInput(f"not a domain: {raw[:80]!r}")
        return text
    try:
        return str(normalize_handle(text))
    except InvalidSyntax as exc:
        raise InvalidInput(f"not a domain: {raw[:80]!r} ({exc})") from exc


def host_under_domain(hostname: str, domain: str) -> bool:
    """True when ``hostname`` is ``domain`` or a name under it; the port is not part of it.

    ``a.b.example.com`` is under ``example.com``; ``badexample.com`` is not.
    """
    name = hostname.split(":", 1)[0]
    return name == domain or name.endswith("." + domain)


def parse_account_did(raw: str) -> Did:
    """A DID as the relay keys accounts by.

    Raises:
        InvalidInput: not a syntactically valid DID.
    """
    text = raw.strip()
    if not text:
        raise InvalidInput("did is required")
    try:
        return parse_did(text)
    except InvalidSyntax as exc:
        raise InvalidInput(f"not a DID: {text[:120]!r} ({exc})") from exc
