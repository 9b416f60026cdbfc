"""Backfill control: start (import or crawl), pause, resume, and progress with a rate and ETA.

The indexer owns backfill jobs (an *import* copies another relay's collection directory; a
*crawl* walks PDS hosts) and streams progress snapshots; admin checks the operator's input,
relays the calls, and makes sure every snapshot says how fast and how long until done.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Final

from relay_core.errors import InvalidSyntax
from relay_core.syntax import parse_nsid
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
    """``progress`` with ``repos_per_second`` and ``eta_seconds`` (-1 when unknown).

    The indexer's own figures (a recent rate, which tracks a job slowing down) win when it sends
    them; otherwise both are derived from the snapshot.
    """
    if progress.dids_per_second > 0:
        return admin_pb2.BackfillProgressView(
            progress=progress, repos_per_second=progress.dids_per_second, eta_seconds=progress.eta_seconds
        )
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


def _collection(raw: str) -> str:
    try:
        return str(parse_nsid(raw.strip()))
    except InvalidSyntax as exc:
        raise InvalidInput(f"not a collection NSID: {raw[:80]!r} ({exc})") from exc


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

    async def start(self, request: admin_pb2.StartBackfillRequest) -> types_pb2.BackfillProgress:
        """Start an import (copy another relay's directory) or a crawl (walk PDS hosts).

        Raises:
            InvalidInput: a bad hostname or NSID, an import without an http(s) source, or
                import-only fields on a crawl.
        """
        forwarded = indexer_pb2.StartBackfillRequest(kind=request.kind)
        if request.kind == types_pb2.BACKFILL_KIND_IMPORT:
            if request.hosts:
                raise InvalidInput("an import copies a relay's directory; hosts are for a crawl")
            source = request.source.strip()
            if not source.startswith(("https://", "http://")) or any(c.isspace() for c in source):
                raise InvalidInput(f"import source must be an http(s) URL of a relay, got {source[:80]!r}")
            forwarded.source = source
            forwarded.collections.extend(sorted({_collection(c) for c in request.collections}))
        else:
            if request.source or request.collections:
                raise InvalidInput("source and collections are for an import; a crawl takes hosts")
            forwarded.hosts.extend(
                sorted({parse_hostname(h, dev_mode=self._dev_mode) for h in request.hosts})
            )
        reply = await self._peers.call(
            "indexer", self._peers.indexer.StartBackfill, forwarded, indexer_pb2.StartBackfillResponse
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
