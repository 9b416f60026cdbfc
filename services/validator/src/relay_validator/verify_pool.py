"""A small pool of worker processes that verify frames for the asyncio process.

Verification (`verify_worker`) is most of the CPU per commit, and all of it stateless, so a
replica can use more than one core: the asyncio process ships a batch's frames with their keys
(bytes in, one pickled list per worker) and gets small outcomes back, while every stateful
check stays with it, in partition order. A batch goes to the idle workers at the time, split in
contiguous chunks (at least `min_chunk` jobs each), so one busy partition still uses every
worker; with several partitions each batch tends to go to one worker whole.

Workers come from a fork server (started once, without the service's sockets and threads), so a
respawn takes milliseconds. A worker that dies (killed, out of memory, a crash in native code)
is replaced and the batch is verified again from the start; if the new workers fail on it too,
`run` returns None and the caller verifies that batch inline, where a frame that kills the
process would have done the same before workers existed. If no worker can be started any more,
every later batch is verified inline. Either way no event is judged without verification and
none is lost. Workers ignore SIGINT/SIGTERM sent to the process group (a supervisor stopping the
service): they end when the main process closes their pipe, or dies.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Final

from relay_validator import metrics
from relay_validator.verify_worker import READY, Job, Outcome, serve

__all__ = ["VerifyPool", "WorkerCrashed"]

logger = logging.getLogger(__name__)

_ATTEMPTS: Final = 2
_JOIN_SECONDS: Final = 2.0
_READY_SECONDS: Final = 30.0
"""A new worker's first answer; the first one also waits for the fork server to start."""


class WorkerCrashed(Exception):
    """A verify worker died or broke its pipe while it held a batch."""


class _PoolBroken(Exception):
    """No worker could be started again (the fork server is gone): verify inline from now on."""


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    # The fork server imports only the worker module (not the service's __main__).
    context.set_forkserver_preload(["relay_validator.verify_worker"])
    return context


class VerifyPool:
    """`workers` verify processes.

    Args:
        workers: number of processes (>= 1).
        min_chunk: a batch is split among idle workers only into chunks of at least this many.
    """

    def __init__(self, workers: int, *, min_chunk: int = 64) -> None:
        if workers < 1:
            raise ValueError("a verify pool needs at least one worker")
        self._size = workers
        self._min_chunk = min_chunk
        self._context = _context()
        self._workers: list[_Worker] = []
        self._idle: asyncio.Queue[_Worker | None] | None = None
        """Idle workers; a None means the pool is broken (passed on to wake every waiter)."""
        self._closed = False
        self._broken = False
        self.jobs_done = 0
        """Jobs answered by workers (a batch verified again after a crash counts once)."""

    @property
    def size(self) -> int:
        return self._size

    def pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def start(self) -> None:
        """Start every worker and wait until each takes jobs (the first call also starts the
        fork server, ~0.2–1 s).

        Raises:
            WorkerCrashed: a worker did not come up.
        """
        self._idle = asyncio.Queue()
        for _ in range(self._size):
            self._idle.put_nowait(self._spawn())

    def close(self) -> None:
        """Stop the workers: closing their pipe ends their loop; stragglers are killed."""
        self._closed = True
        for worker in self._workers:
            worker.conn.close()
        for worker in self._workers:
            worker.process.join(_JOIN_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(_JOIN_SECONDS)
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
        calls = [self._call(worker, chunk, now_us) for worker, chunk in zip(workers, chunks, strict=True)]
        try:
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
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve, args=(child,), name="relay-validator-verify", daemon=True
        )
        process.start()
        child.close()  # so the worker's death shows here as EOF
        try:
            ready = parent.poll(_READY_SECONDS) and parent.recv_bytes() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            parent.close()
            process.kill()
            raise WorkerCrashed(
                f"verify worker pid {process.pid} did not start (exit code {process.exitcode})"
            )
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` and put a new one in the idle queue (unless the pool is closing)."""
        if worker in self._workers:
            self._workers.remove(worker)
        worker.conn.close()
        worker.process.kill()
        worker.process.join(_JOIN_SECONDS)
        if self._closed or self._idle is None or self._broken:
            return
        try:
            self._idle.put_nowait(self._spawn())
        except Exception:
            # Typically the fork server died with the process group (a signal to the group at
            # shutdown): nothing can be verified in workers any more, but inline still can.
            logger.exception("could not start a verify worker; verifying inline from now on")
            self._broken = True
            self._idle.put_nowait(None)
