"""Parsing the upstream XRPC answers a backfill pages through, kept pure (no I/O).

Bodies come from other relays and PDS hosts we do not control, so parsing is strict about shape
(a body that is not the lexicon's object fails the page) and lenient about items: a repo entry
whose DID or NSID does not parse is skipped and counted, never allowed into the index.

An empty or missing cursor ends the walk, and so does a page with no items even when it carries
a cursor (some servers return one on the last page; following it could loop forever).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from relay_core.errors import InvalidSyntax
from relay_core.syntax import Did, Nsid, parse_did, parse_nsid

from relay_indexer.errors import InvalidPage

__all__ = [
    "CollectionPage",
    "RepoListing",
    "ReposPage",
    "parse_collection_page",
    "parse_described_collections",
    "parse_repos_page",
]


@dataclass(frozen=True, slots=True)
class CollectionPage:
    """One page of `com.atproto.sync.listReposByCollection`; `cursor` None = last page."""

    dids: list[Did]
    cursor: str | None
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class RepoListing:
    """One repo of `com.atproto.sync.listRepos`: inactive repos have nothing to describe."""

    did: Did
    active: bool


@dataclass(frozen=True, slots=True)
class ReposPage:
    """One page of `com.atproto.sync.listRepos`; `cursor` None = last page."""

    repos: list[RepoListing]
    cursor: str | None
    skipped: int = 0


def _object(body: object, what: str) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise InvalidPage(f"{what}: body is not a JSON object")
    return body


def _items(body: Mapping[str, object], field: str, what: str) -> list[object]:
    items = body.get(field)
    if not isinstance(items, list):
        raise InvalidPage(f"{what}: {field!r} is not a list")
    return items


def _next_cursor(body: Mapping[str, object], count: int) -> str | None:
    cursor = body.get("cursor")
    if not isinstance(cursor, str) or not cursor or count == 0:
        return None
    return cursor


def parse_collection_page(body: object) -> CollectionPage:
    """Raises InvalidPage when `body` is not a listReposByCollection output object."""
    obj = _object(body, "listReposByCollection")
    items = _items(obj, "repos", "listReposByCollection")
    dids: list[Did] = []
    skipped = 0
    for item in items:
        raw = item.get("did") if isinstance(item, dict) else None
        try:
            dids.append(parse_did(raw) if isinstance(raw, str) else _bad())
        except InvalidSyntax:
            skipped += 1
    return CollectionPage(dids, _next_cursor(obj, len(items)), skipped)


def parse_repos_page(body: object) -> ReposPage:
    """Raises InvalidPage when `body` is not a listRepos output object.

    `active` defaults to true when absent (older PDS versions predate the field)."""
    obj = _object(body, "listRepos")
    items = _items(obj, "repos", "listRepos")
    repos: list[RepoListing] = []
    skipped = 0
    for item in items:
        raw = item.get("did") if isinstance(item, dict) else None
        try:
            did = parse_did(raw) if isinstance(raw, str) else _bad()
        except InvalidSyntax:
            skipped += 1
            continue
        assert isinstance(item, dict)
        repos.append(RepoListing(did, item.get("active", True) is not False))
    return ReposPage(repos, _next_cursor(obj, len(items)), skipped)


def parse_described_collections(body: object, did: Did) -> frozenset[Nsid]:
    """The `collections` of a `com.atproto.repo.describeRepo` answer: every collection the repo
    holds at least one record in.

    Raises:
        InvalidPage: not an object, another DID's answer, or `collections` missing or holding a
            string that is not an NSID (a partial answer must not settle anything).
    """
    obj = _object(body, "describeRepo")
    if obj.get("did") != did:
        raise InvalidPage(f"describeRepo: asked for {did}, answered for {obj.get('did')!r}")
    raw = _items(obj, "collections", "describeRepo")
    try:
        return frozenset(parse_nsid(c) if isinstance(c, str) else _bad() for c in raw)
    except InvalidSyntax as exc:
        raise InvalidPage(f"describeRepo: {exc}") from exc


def _bad() -> NoReturn:
    raise InvalidSyntax("not a string")
