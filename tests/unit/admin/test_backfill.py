"""Backfill rate and ETA derived from one progress snapshot."""

from __future__ import annotations

from relay_admin.backfill import progress_view
from relay_proto.types.v1 import types_pb2

S = 1_000_000


def snapshot(
    *, repos_total: int = 0, repos_done: int = 0, repos_failed: int = 0, updated_at_us: int
) -> types_pb2.BackfillProgress:
    return types_pb2.BackfillProgress(
        state=types_pb2.BACKFILL_STATE_RUNNING,
        started_at_us=100 * S,
        repos_total=repos_total,
        repos_done=repos_done,
        repos_failed=repos_failed,
        updated_at_us=updated_at_us,
    )


def test_rate_counts_done_and_failed_repos_since_the_start() -> None:
    view = progress_view(snapshot(repos_total=1000, repos_done=90, repos_failed=10, updated_at_us=110 * S))
    assert view.repos_per_second == 10.0
    assert view.eta_seconds == 90
    assert view.progress.repos_done == 90


def test_eta_is_unknown_without_progress_or_total() -> None:
    assert progress_view(snapshot(repos_total=1000, updated_at_us=110 * S)).eta_seconds == -1
    assert progress_view(snapshot(repos_done=5, updated_at_us=110 * S)).eta_seconds == -1
    assert progress_view(snapshot(repos_total=10, repos_done=5, updated_at_us=100 * S)).eta_seconds == -1


def test_finished_jobs_have_no_time_left() -> None:
    done = snapshot(repos_total=10, repos_done=10, updated_at_us=105 * S)
    assert progress_view(done).eta_seconds == 0
    done.state = types_pb2.BACKFILL_STATE_DONE
    done.repos_total = 0
    assert progress_view(done).eta_seconds == 0


def test_the_indexers_recent_rate_wins_when_it_sends_one() -> None:
    progress = snapshot(repos_total=1000, repos_done=100, updated_at_us=110 * S)
    progress.dids_per_second = 50.0
    progress.eta_seconds = 18
    view = progress_view(progress)
    assert (view.repos_per_second, view.eta_seconds) == (50.0, 18)
