"""What a verify worker process runs: `verify_commit_event`/`verify_sync_event`.

Stateless on purpose: a job is the event the main process decoded, the key to check the
signature with, the `strict` flag and the clock, so the answer depends on nothing else and the
main process can tell whether it applies to the inputs `judge` ends up with
(`relay_validator.precomputed`). Events travel in their compact pickled form (flat raw fields,
see `CommitEvent.__reduce__`), which is cheaper to rebuild than the frame is to decode again.
Results are small tuples (a CID or two, or an error's class, message and reason).

This module imports only relay_core, so a worker starts fast and holds nothing of the service;
`VerifyPool` runs it as `python -m relay_validator.verify_worker <fd>`.
"""

from __future__ import annotations

import pickle
import signal
import sys
from multiprocessing.connection import Connection
from typing import Final

from relay_core.errors import RelayError
from relay_core.firehose.events import CommitEvent, SyncEvent
from relay_core.firehose.verify import verify_commit_event, verify_sync_event
from relay_core.keys import Curve, PublicKey

__all__ = [
    "ERROR",
    "OK",
    "READY",
    "SKIPPED",
    "Job",
    "Outcome",
    "serve",
    "verify_jobs",
]

OK: Final = 0
ERROR: Final = 1
SKIPPED: Final = 2
_KEY_CACHE_ENTRIES: Final = 50_000
READY: Final = b"ready"
"""A worker's first message: its signal handling is in place and it takes jobs."""

Job = tuple[CommitEvent | SyncEvent, str, bytes, bool]
"""(event, key curve, compressed key point, strict)."""
Outcome = tuple[int, bytes, bytes] | tuple[int, str, str, str] | tuple[int]
"""(OK, commit CID, data CID) | (ERROR, RelayError class name, message, reason) | (SKIPPED,):
something other than a `RelayError` was raised (the main process then verifies inline and
meets it there)."""

_keys: dict[tuple[str, bytes], PublicKey] = {}


def _key(curve: str, compressed: bytes) -> PublicKey:
    key = _keys.get((curve, compressed))
    if key is None:
        if len(_keys) >= _KEY_CACHE_ENTRIES:
            _keys.clear()  # keys repeat per account; a rare full reset beats an LRU's bookkeeping
        key = _keys[(curve, compressed)] = PublicKey(Curve(curve), compressed)
    return key


def _one(job: Job, now_us: int) -> Outcome:
    event, curve, compressed, strict = job
    try:
        key = _key(curve, compressed)
        if isinstance(event, CommitEvent):
            commit = verify_commit_event(event, signing_key=key, now_us=now_us, strict=strict)
            return (OK, commit.commit_cid.raw, commit.data.raw)
        sync = verify_sync_event(event, signing_key=key, now_us=now_us)
        return (OK, sync.commit_cid.raw, sync.data.raw)
    except RelayError as exc:
        return (ERROR, type(exc).__name__, str(exc), exc.reason)
    except Exception:
        return (SKIPPED,)


def verify_jobs(jobs: list[Job], now_us: int) -> list[Outcome]:
    """Outcomes in job order."""
    return [_one(job, now_us) for job in jobs]


def serve(conn: Connection) -> None:
    """Worker main loop: one pickled `(jobs, now_us)` in, one pickled outcome list out, until
    the main process closes its end."""
    # A signal to the whole process group (Ctrl-C, a supervisor's SIGTERM) must not kill the
    # workers under a main process that is still finishing its batches: they end when it closes
    # their pipe (or dies, which closes it too).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn.send_bytes(READY)
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        jobs, now_us = pickle.loads(request)
        answer = pickle.dumps(verify_jobs(jobs, now_us), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            conn.send_bytes(answer)
        except OSError:
            return  # the main process is gone (its end of the pipe closed)


if __name__ == "__main__":
    # `python -m relay_validator.verify_worker <fd>`: the pool passes one end of a socket pair.
    serve(Connection(int(sys.argv[1])))
