"""The counting rules: when a DID joins, stays in, or leaves a collection."""

from __future__ import annotations

import pytest
from relay_indexer.collection_counts import Outcome, after_create, after_delete, after_presence, after_update
from relay_indexer.collection_keys import Entry


@pytest.mark.parametrize("exact", [True, False])
def test_create_lists_and_counts(exact: bool) -> None:
    assert after_create(None, exact=exact) == Outcome(Entry(listed=True, low=1))
    assert after_create(Entry(listed=True, low=3), exact=exact) == Outcome(Entry(listed=True, low=4))
    # Even an undecided pair (listing unknown, bound zero) is certainly present after a create.
    assert after_create(Entry(listed=False, low=0), exact=exact) == Outcome(Entry(listed=True, low=1))


def test_exact_last_delete_removes() -> None:
    assert after_delete(Entry(listed=True, low=1), exact=True) == Outcome(None)
    assert after_delete(Entry(listed=True, low=2), exact=True) == Outcome(Entry(listed=True, low=1))


def test_exact_delete_below_zero_removes_and_asks_for_a_check() -> None:
    assert after_delete(None, exact=True) == Outcome(None, check=True)


def test_inexact_delete_to_zero_keeps_listing_and_asks_for_a_check() -> None:
    # Seen one create mid-life, then one delete: the repo may hold older records we never saw.
    assert after_delete(Entry(listed=True, low=1), exact=False) == Outcome(
        Entry(listed=True, low=0), check=True
    )
    # Already at the floor: stays at zero, never negative.
    assert after_delete(Entry(listed=True, low=0), exact=False) == Outcome(
        Entry(listed=True, low=0), check=True
    )


def test_inexact_delete_of_an_unknown_pair_does_not_list_it() -> None:
    assert after_delete(None, exact=False) == Outcome(None, check=True)


def test_inexact_delete_above_one_is_certain() -> None:
    assert after_delete(Entry(listed=True, low=5), exact=False) == Outcome(Entry(listed=True, low=4))


def test_update_proves_presence() -> None:
    assert after_update(None, exact=False) == Outcome(Entry(listed=True, low=1))
    assert after_update(Entry(listed=True, low=0), exact=False) == Outcome(Entry(listed=True, low=1))
    assert after_update(Entry(listed=True, low=7), exact=True) == Outcome(Entry(listed=True, low=7))
    # An exact DID updating a record it has none of contradicts "exact": follow the event, check.
    assert after_update(None, exact=True) == Outcome(Entry(listed=True, low=1), check=True)


def test_presence_answers_settle_the_pair() -> None:
    undecided = Entry(listed=True, low=0)
    assert after_presence(undecided, present=False, count=None) == Outcome(None)
    assert after_presence(undecided, present=True, count=0) == Outcome(None)
    assert after_presence(undecided, present=True, count=None) == Outcome(Entry(listed=True, low=1))
    assert after_presence(undecided, present=True, count=12) == Outcome(Entry(listed=True, low=12))
    assert after_presence(Entry(listed=True, low=4), present=True, count=None) == Outcome(
        Entry(listed=True, low=4)
    )
