"""How one record operation moves a (DID, collection) entry: the counting rules, kept pure.

indigo's collection directory only ever adds a DID to a collection. We also take it out when its
last record there goes, which needs counts, and counts are only trustworthy for some DIDs:

* An **exact** DID is one whose history we saw from its first commit (a #commit with no `since`)
  or whose counts came from a full repo walk. Its count is the truth: a delete that brings it to
  zero removes the DID from the collection at once.
* Any other DID (seen mid-life on the firehose, or imported by backfill) has a lower bound `low`
  only: a create proves one more record, an update proves at least one, a delete may remove one we
  never saw created. `low` never goes below zero (a repo cannot hold fewer than none).

The rule for an inexact DID whose bound reaches zero: **we do not know, so listing does not
change**, and the pair is queued for a repo check (describeRepo / getRepo) that settles it. A DID
is never dropped from a collection on a guess, and never added on one: only a create or update (a
proof of at least one record) lists it. The same applies to an exact DID whose count would go below
zero or that updates a record it has none of: that contradicts its "exact" state, so the entry
follows the event and a check is queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_indexer.collection_keys import Entry

__all__ = ["Outcome", "after_create", "after_delete", "after_update", "after_presence"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The entry after the operation (None = the DID holds nothing there) and whether the pair
    needs a repo check before its listing can be trusted."""

    entry: Entry | None
    check: bool = False


def after_create(entry: Entry | None, *, exact: bool) -> Outcome:
    """A record was created: the DID now certainly holds at least one more."""
    low = entry.low if entry else 0
    return Outcome(Entry(listed=True, low=low + 1))


def after_update(entry: Entry | None, *, exact: bool) -> Outcome:
    """A record was updated: it exists, so the DID holds at least one."""
    low = entry.low if entry else 0
    contradicts = exact and low < 1
    return Outcome(Entry(listed=True, low=max(low, 1)), check=contradicts)


def after_delete(entry: Entry | None, *, exact: bool) -> Outcome:
    """A record was deleted: one fewer, if we knew of it."""
    low = entry.low if entry else 0
    if exact:
        if low > 1:
            return Outcome(Entry(listed=True, low=low - 1))
        # Reaching zero is the normal "last record gone"; below zero means "exact" was wrong.
        return Outcome(None, check=low < 1)
    if low > 1:
        return Outcome(Entry(listed=True, low=low - 1))
    if entry is None:
        # Proof that the DID had a record here before, none that it has one now: check, not list.
        return Outcome(None, check=True)
    return Outcome(Entry(listed=entry.listed, low=0), check=True)


def after_presence(entry: Entry | None, *, present: bool, count: int | None) -> Outcome:
    """A repo check answered for the pair: `count` when the whole repo was walked, else None
    (describeRepo tells presence only). Settles any pending uncertainty."""
    if not present or count == 0:
        return Outcome(None)
    if count is not None:
        return Outcome(Entry(listed=True, low=count))
    return Outcome(Entry(listed=True, low=max(entry.low if entry else 0, 1)))
