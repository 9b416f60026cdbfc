"""Backfill control: start, pause, resume, and progress with a rate and an ETA.

The indexer owns backfill jobs and streams progress snapshots; admin relays them and adds what
an operator asks first: how fast, and how long until done. Both derive from the snapshot alone
(repos finished since ``started_at_us``), so every watcher, and a watcher that joins late, sees
the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Final

from relay_proto.admin.v1 import admin_pb2
from relay_proto.indexer.v1 import indexer_pb2
from relay_proto.types.v1 import types_pb2

from relay_admin.errors import InvalidInput
from relay_admin.hostname import parse_hostname
from relay_admin.peers import Peers

__all__ = ["BackfillOperations", "progress_view"]

_UNKNOWN_ETA: Final = -1
_MAX_JOB_ID: Final = 200


def progress_view(progress: types_pb2.BackfillProgress) -> admin_pb2.BackfillProgressView:
    """``progress`` with ``repos_per_second`` and ``eta_seconds`` (-1 when unknown)."""
    finished = progress.repos_done + progress.repos_failed
    elapsed_us = progress.updated_at_us - progress.started_at_us
    rate = finished / (elapsed_us / 1e6) if elapsed_us > 0 and finished > 0 else 0.0
    remaining = max(progress.repos_total - finished, 0)
    if progress.state == types_pb2.BACKFILL_STATE_DONE or (progress.repos_total and remaining == 0):
        eta = 0
    elif rate > 0 and progress.repos_total:
        eta = math.ceil(remaining / rate)
    else:
        eta = _UNKNOWN_ETA
    return admin_pb2.BackfillProgressView(progress=progress, repos_per_second=rate, eta_seconds=eta)


def _job_id(raw: str, *, required: bool) -> str:
    job_id = raw.strip()
    if required and not job_id:
        raise InvalidInput("job_id is required")
    if len(job_id) > _MAX_JOB_ID or any(c.isspace() for c in job_id):
        raise InvalidInput(f"not a job id: {raw[:80]!r}")
    return job_id


class BackfillOperations:
    """Backfill actions, forwarded to the indexer."""

    def __init__(self, peers: Peers, *, dev_mode: bool) -> None:
        self._peers = peers
        self._dev_mode = dev_mode

    async def start(self, hosts: list[str]) -> types_pb2.BackfillProgress:
        names = sorted({parse_hostname(h, dev_mode=self._dev_mode) for h in hosts})
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.StartBackfill,
            indexer_pb2.StartBackfillRequest(hosts=names),
            indexer_pb2.StartBackfillResponse,
        )
        return reply.progress

    async def pause(self, raw_job_id: str) -> types_pb2.BackfillProgress:
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.PauseBackfill,
            indexer_pb2.PauseBackfillRequest(job_id=_job_id(raw_job_id, required=True)),
            indexer_pb2.PauseBackfillResponse,
        )
        return reply.progress

    async def resume(self, raw_job_id: str) -> types_pb2.BackfillProgress:
        reply = await self._peers.call(
            "indexer",
            self._peers.indexer.ResumeBackfill,
            indexer_pb2.ResumeBackfillRequest(job_id=_job_id(raw_job_id, required=True)),
            indexer_pb2.ResumeBackfillResponse,
        )
        return reply.progress

    async def watch(self, raw_job_id: str, *, follow: bool) -> AsyncIterator[admin_pb2.BackfillProgressView]:
        request = indexer_pb2.GetBackfillProgressRequest(
            job_id=_job_id(raw_job_id, required=False), follow=follow
        )
        async for progress in self._peers.stream(
            "indexer", self._peers.indexer.GetBackfillProgress, request, types_pb2.BackfillProgress
        ):
            yield progress_view(progress)
