"""A small pool of worker processes that verify frames for the asyncio process.

Verification (`verify_worker`) is most of the CPU per commit, and all of it stateless, so a
replica can use more than one core: the asyncio process ships a batch's decoded events with their
keys (one pickled list per worker) and gets small outcomes back, while every stateful
check stays with it, in partition order. A batch goes to the idle workers at the time, split in
contiguous chunks (at least `min_chunk` jobs each), so one busy partition still uses every
worker; with several partitions each batch tends to go to one worker whole.

A worker is a fresh interpreter (`python -m relay_validator.verify_worker`) talking over a socket
pair: it imports relay_core and nothing of the service (no sockets, no threads, and not the
parent's `__main__`, which multiprocessing's spawn and fork-server starts import again). A worker
that dies (killed, out of memory, a crash in native code) is replaced and the batch is verified
again from the start; if the new workers fail on it too, `run` returns None and the caller
verifies that batch inline, where a frame that kills the process would have done the same before
workers existed. If no worker can be started any more, every later batch is verified inline.
Either way no event is judged without verification and none is lost. Workers ignore
SIGINT/SIGTERM sent to the process group (a supervisor stopping the service): they end when the
main process closes its end of the socket, or dies.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Final

from relay_validator import metrics
from relay_validator.verify_worker import READY, Job, Outcome

__all__ = ["DEFAULT_MIN_BATCH", "VerifyPool", "WorkerCrashed"]

logger = logging.getLogger(__name__)

_ATTEMPTS: Final = 2
_JOIN_SECONDS: Final = 2.0
DEFAULT_MIN_BATCH: Final = 16
"""A round trip costs the main process about one inline verification (~130 µs) and the whole
machine more than that: small batches, which mean the main
process is not busy, are cheaper verified inline, and big ones, which mean it is, go to workers."""
_READY_SECONDS: Final = 30.0
"""Time for a new worker to import relay_core and report ready."""


class WorkerCrashed(Exception):
    """A verify worker died or broke its pipe while it held a batch."""


class _PoolBroken(Exception):
    """No worker could be started again: verify inline from now on."""


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection


class VerifyPool:
    """`workers` verify processes.

    Args:
        workers: number of processes (>= 1).
        min_batch: batches with fewer frames to verify are verified inline by the caller.
        min_chunk: a batch is split among idle workers only into chunks of at least this many.
    """

    def __init__(self, workers: int, *, min_batch: int = DEFAULT_MIN_BATCH, min_chunk: int = 64) -> None:
        if workers < 1:
            raise ValueError("a verify pool needs at least one worker")
        self._size = workers
        self.min_batch = min_batch
        self._min_chunk = min_chunk
        self._workers: list[_Worker] = []
        self._idle: asyncio.Queue[_Worker | None] | None = None
        """Idle workers; a None means the pool is broken (passed on to wake every waiter)."""
        self._closed = False
        self._broken = False
        self._adopting: set[asyncio.Task[None]] = set()
        self.jobs_done = 0
        """Jobs answered by workers (a batch verified again after a crash counts once)."""

    @property
    def size(self) -> int:
        return self._size

    def pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        return [w.process.pid for w in self._workers]

    def start(self) -> None:
        """Start every worker and wait until each takes jobs (~0.2–0.5 s, blocking).

        Raises:
            WorkerCrashed: a worker did not come up.
        """
        self._idle = asyncio.Queue()
        workers = [self._spawn() for _ in range(self._size)]
        for worker in workers:
            ready = False
            try:
                ready = worker.conn.poll(_READY_SECONDS) and worker.conn.recv_bytes() == READY
            except (EOFError, OSError):
                pass
            if not ready:
                self.close()
                raise WorkerCrashed(f"verify worker pid {worker.process.pid} did not start")
            self._idle.put_nowait(worker)

    def close(self) -> None:
        """Stop the workers: closing their pipe ends their loop; stragglers are killed."""
        self._closed = True
        for worker in self._workers:
            worker.conn.close()
        for worker in self._workers:
            try:
                worker.process.wait(_JOIN_SECONDS)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(_JOIN_SECONDS)
        self._workers = []

    async def run(self, jobs: list[Job], now_us: int) -> list[Outcome] | None:
        """Outcomes in job order, or None when workers died on this batch `_ATTEMPTS` times
        (the caller verifies it inline)."""
        if not jobs or self._broken:
            return [] if not jobs else None
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                outcomes = await self._run_once(jobs, now_us)
            except _PoolBroken:
                return None
            except WorkerCrashed as exc:
                metrics.VERIFY_WORKER_RESTARTS_TOTAL.inc()
                logger.error(
                    "verify worker died holding a batch; replaced, batch verified again",
                    extra={"error": str(exc), "attempt": attempt, "frames": len(jobs)},
                )
            else:
                self.jobs_done += len(outcomes)
                return outcomes
        logger.error(
            "verify workers keep dying on this batch; verifying it inline", extra={"frames": len(jobs)}
        )
        return None

    async def _run_once(self, jobs: list[Job], now_us: int) -> list[Outcome]:
        idle = self._idle
        if idle is None or self._closed:
            raise RuntimeError("verify pool is not running")
        first = await idle.get()
        if first is None:
            idle.put_nowait(None)
            raise _PoolBroken
        workers = [first]
        while not idle.empty() and len(jobs) >= self._min_chunk * (len(workers) + 1):
            more = idle.get_nowait()
            if more is None:
                idle.put_nowait(None)
                break
            workers.append(more)
        step = -(-len(jobs) // len(workers))
        chunks = [jobs[i : i + step] for i in range(0, len(jobs), step)]
        try:
            results: list[list[Outcome] | BaseException]
            if len(workers) == 1:
                # The common case with several busy partitions: no gather, no extra task.
                try:
                    results = [await self._call(workers[0], jobs, now_us)]
                except WorkerCrashed as exc:
                    results = [exc]
            else:
                calls = [self._call(w, chunk, now_us) for w, chunk in zip(workers, chunks, strict=True)]
                results = await asyncio.gather(*calls, return_exceptions=True)
        except BaseException:
            # Cancelled: each worker may still write its answer into its pipe, where the next
            # request would read it. Not reusable.
            for worker in workers:
                self._replace(worker)
            raise
        outcomes: list[Outcome] = []
        crashed: BaseException | None = None
        for worker, result in zip(workers, results, strict=True):
            if isinstance(result, BaseException):
                crashed = crashed or result
                self._replace(worker)
            else:
                outcomes.extend(result)
                idle.put_nowait(worker)
        if crashed is not None:
            raise crashed
        return outcomes

    async def _call(self, worker: _Worker, jobs: list[Job], now_us: int) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        conn = worker.conn
        fd = conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if answer.done():
                return
            try:
                answer.set_result(conn.recv_bytes())
            except (EOFError, OSError) as exc:
                answer.set_exception(WorkerCrashed(f"pid {worker.process.pid}: {exc!r}"))

        loop.add_reader(fd, readable)
        try:
            # Blocks while the worker reads the request off the pipe: it is idle, so it does at once.
            conn.send_bytes(pickle.dumps((jobs, now_us), protocol=pickle.HIGHEST_PROTOCOL))
            outcomes: list[Outcome] = pickle.loads(await answer)
        except (EOFError, OSError) as exc:
            raise WorkerCrashed(f"pid {worker.process.pid}: {exc!r}") from exc
        finally:
            loop.remove_reader(fd)
        if len(outcomes) != len(jobs):
            raise WorkerCrashed(f"pid {worker.process.pid}: {len(outcomes)} outcomes for {len(jobs)} jobs")
        return outcomes

    def _spawn(self) -> _Worker:
        """Start a worker process (not yet known to be ready)."""
        parent, child = socket.socketpair()
        with child:
            process = subprocess.Popen(
                [sys.executable, "-m", "relay_validator.verify_worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        # The child's end is closed here, so the worker's death shows as EOF.
        worker = _Worker(process, Connection(parent.detach()))
        self._workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker`; a new one joins the idle queue once it reports ready (unless the pool
        is closing)."""
        if worker in self._workers:
            self._workers.remove(worker)
        worker.conn.close()
        worker.process.kill()
        worker.process.wait(_JOIN_SECONDS)
        if self._closed or self._idle is None or self._broken:
            return
        try:
            fresh = self._spawn()
        except Exception as exc:
            self._break(repr(exc))
            return
        task = asyncio.get_running_loop().create_task(self._adopt(fresh))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[bool] = loop.create_future()
        fd = worker.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if not ready.done():
                try:
                    ready.set_result(worker.conn.recv_bytes() == READY)
                except (EOFError, OSError):
                    ready.set_result(False)

        loop.add_reader(fd, readable)
        try:
            ok = await asyncio.wait_for(ready, _READY_SECONDS)
        except TimeoutError:
            ok = False
        finally:
            loop.remove_reader(fd)
        if self._closed:
            return
        if ok and self._idle is not None:
            self._idle.put_nowait(worker)
            return
        self._workers.remove(worker)
        worker.conn.close()
        worker.process.kill()
        self._break(f"pid {worker.process.pid} did not report ready")

    def _break(self, error: str) -> None:
        # Nothing can be verified in workers any more (out of processes or memory?), but inline
        # still can: every waiting and later batch is told so.
        logger.error("could not start a verify worker; verifying inline from now on", extra={"error": error})
        self._broken = True
        if self._idle is not None:
            self._idle.put_nowait(None)
