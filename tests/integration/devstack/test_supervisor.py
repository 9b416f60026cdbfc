"""The supervisor restarts only the service that died or outgrew its memory limit."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from relay_devstack.backoff import RestartBackoff
from relay_devstack.supervisor import EventReason, ServiceEvent, ServiceSpec, Supervisor

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
SLEEPER = "import time; print('ready', flush=True); time.sleep(600)"
# Filled bytes objects, not bytearray(n): calloc'd pages would not count as resident until touched.
HOG = "import time\nheap = []\nwhile True:\n    heap.append(b'x' * (8 << 20))\n    time.sleep(0.02)\n"
# The memory lives in a grandchild, so the limit only trips if RSS is summed over the process tree.
PARENT_OF_HOG = (
    "import subprocess, sys, pathlib\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1]])\n"
    "pathlib.Path(sys.argv[2]).write_text(str(child.pid))\n"
    "child.wait()\n"
)
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
FAST = RestartBackoff(initial_seconds=0.05, max_seconds=0.2)


def spec(name: str, code: str, *args: str, limit: int = 256 * MIB) -> ServiceSpec:
    return ServiceSpec(name=name, argv=(sys.executable, "-c", code, *args), memory_limit_bytes=limit)


async def eventually(condition: Callable[[], bool], timeout_seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_kill_9_restarts_only_that_service(tmp_path: Path) -> None:
    events: list[ServiceEvent] = []
    specs = [spec(name, SLEEPER) for name in ("alpha", "beta", "gamma")]
    supervisor = Supervisor(
        specs, log_dir=tmp_path, poll_interval_seconds=0.1, backoff=FAST, on_event=events.append
    )
    await supervisor.start()
    try:
        logs = [tmp_path / f"{s.name}.log" for s in specs]
        await eventually(lambda: all("ready" in log.read_text() for log in logs))
        before = {s.name: supervisor.pid(s.name) for s in specs}
        victim = before["beta"]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        await eventually(lambda: supervisor.pid("beta") not in (None, victim))
        await eventually(lambda: (tmp_path / "beta.log").read_text().count("ready") == 2)
        assert supervisor.pid("alpha") == before["alpha"]
        assert supervisor.pid("gamma") == before["gamma"]
        exits = [e for e in events if e.reason is EventReason.EXITED]
        assert [(e.service, e.pid, e.signal, e.restarts) for e in exits] == [("beta", victim, "SIGKILL", 1)]
        assert {s.name: s.restarts for s in supervisor.states()} == {"alpha": 0, "beta": 1, "gamma": 0}
    finally:
        await supervisor.stop()
    assert all(not pid_alive(p) for p in before.values() if p)


async def test_service_over_its_memory_limit_is_killed_and_restarted(tmp_path: Path) -> None:
    events: list[ServiceEvent] = []
    child_pid_file = tmp_path / "hog.pid"
    specs = [
        spec("hog", PARENT_OF_HOG, HOG, str(child_pid_file), limit=96 * MIB),
        spec("calm", SLEEPER, limit=96 * MIB),
    ]
    supervisor = Supervisor(
        specs, log_dir=tmp_path, poll_interval_seconds=0.1, backoff=FAST, on_event=events.append
    )
    await supervisor.start()
    try:
        calm_pid, first_hog = supervisor.pid("calm"), supervisor.pid("hog")
        await eventually(lambda: any(e.reason is EventReason.MEMORY_LIMIT for e in events))
        killed = next(e for e in events if e.reason is EventReason.MEMORY_LIMIT)
        assert killed.service == "hog" and killed.pid == first_hog
        assert killed.rss_bytes is not None and killed.rss_bytes > 96 * MIB == killed.limit_bytes
        # The whole process group went down, including the grandchild holding the memory.
        first_child = int(child_pid_file.read_text())
        await eventually(lambda: not pid_alive(first_child))
        await eventually(lambda: supervisor.pid("hog") not in (None, first_hog))
        assert supervisor.pid("calm") == calm_pid
        assert all(e.service == "hog" for e in events if e.reason is not EventReason.STARTED)
    finally:
        await supervisor.stop()


async def test_stop_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    events: list[ServiceEvent] = []
    supervisor = Supervisor(
        [spec("stubborn", STUBBORN), spec("polite", SLEEPER)],
        log_dir=tmp_path,
        stop_grace_seconds=0.5,
        on_event=events.append,
    )
    await supervisor.start()
    await asyncio.sleep(0.3)  # let the child install its SIGTERM handler
    await supervisor.stop()
    stopped = {e.service: e.signal for e in events if e.reason is EventReason.STOPPED}
    assert stopped == {"stubborn": "SIGKILL", "polite": "SIGTERM"}


async def test_crash_loop_backs_off(tmp_path: Path) -> None:
    events: list[ServiceEvent] = []
    backoff = RestartBackoff(initial_seconds=0.05, multiplier=2, max_seconds=0.4)
    supervisor = Supervisor(
        [spec("crashy", "import sys; sys.exit(3)")], log_dir=tmp_path, backoff=backoff, on_event=events.append
    )
    await supervisor.start()
    try:
        await eventually(lambda: sum(e.reason is EventReason.EXITED for e in events) >= 4)
    finally:
        await supervisor.stop()
    exits = [e for e in events if e.reason is EventReason.EXITED]
    assert all(e.exit_code == 3 and e.signal is None for e in exits)
    assert [e.restart_in_seconds for e in exits[:4]] == [0.05, 0.1, 0.2, 0.4]
