"""Parsing upstream pages: strict about shape, lenient about items, never loops on a bad cursor."""

from __future__ import annotations

import pytest
from relay_indexer.backfill_pages import parse_collection_page, parse_described_collections, parse_repos_page
from relay_indexer.errors import InvalidPage

A = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
B = "did:web:example.com"


def test_collection_page_skips_bad_dids_and_keeps_cursor() -> None:
    page = parse_collection_page(
        {"repos": [{"did": A}, {"did": "nope"}, {"x": 1}, 5, {"did": B}], "cursor": "c"}
    )
    assert page.dids == [A, B] and page.skipped == 3 and page.cursor == "c"


@pytest.mark.parametrize(
    "body", [{"repos": [{"did": A}]}, {"repos": [{"did": A}], "cursor": ""}, {"repos": [], "cursor": "c"}]
)
def test_collection_walk_ends(body: object) -> None:
    assert parse_collection_page(body).cursor is None


@pytest.mark.parametrize("body", [[], "x", {"repos": "x"}, {}])
def test_collection_page_shape_is_strict(body: object) -> None:
    with pytest.raises(InvalidPage):
        parse_collection_page(body)


def test_repos_page_reads_active_flag() -> None:
    page = parse_repos_page(
        {
            "repos": [{"did": A, "active": False, "status": "deactivated"}, {"did": B}, {"did": 3}],
            "cursor": "n",
        }
    )
    assert [(r.did, r.active) for r in page.repos] == [(A, False), (B, True)]
    assert page.skipped == 1 and page.cursor == "n"


def test_described_collections() -> None:
    body = {"did": A, "collections": ["app.bsky.feed.post", "com.example.fancy.thing"]}
    assert parse_described_collections(body, A) == {"app.bsky.feed.post", "com.example.fancy.thing"}
    assert parse_described_collections({"did": A, "collections": []}, A) == frozenset()


@pytest.mark.parametrize(
    "body",
    [
        {"did": B, "collections": []},  # another DID's answer
        {"did": A},  # no collections: must not settle as "holds nothing"
        {"did": A, "collections": ["app.bsky.feed.post", "not an nsid"]},
        {"did": A, "collections": [1]},
    ],
)
def test_partial_or_foreign_description_is_refused(body: object) -> None:
    with pytest.raises(InvalidPage):
        parse_described_collections(body, A)
