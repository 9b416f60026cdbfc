"""`python -m relay_devstack up|down|status|supervise` (behind `./dev up` / `./dev down`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from relay_devstack.daemon import configure_daemon_logging, read_pid_file, run_stack
from relay_devstack.errors import InvalidMemoryLimit
from relay_devstack.limits import memory_limits
from relay_devstack.stack import StackConfig, StateLayout
from relay_devstack.status import load_stack, render_table, service_health

__all__ = ["main"]

_CRASH_LOOP_RESTARTS = 3
"""Restarts during `up` after which a service is reported as failing instead of waited for."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = StateLayout(Path(args.state_dir).expanduser().resolve())
    if args.command == "down":
        return _down(layout, args.timeout)
    if args.command == "status":
        return _status(layout)
    try:
        limits = memory_limits(os.environ, args.memory_limit)
    except InvalidMemoryLimit as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = StackConfig(
        state_dir=layout.root,
        port_offset=args.port_offset,
        memory_limits=limits,
        log_level=args.log_level,
    )
    if args.command == "supervise":
        configure_daemon_logging("INFO")
        return asyncio.run(run_stack(config))
    return _up(layout, args, args.timeout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relay_devstack", description="Local relay dev stack")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("up", "start NATS, Postgres, migrations, the six services and the router in the background"),
        ("supervise", "run the supervisor in the foreground (what `up` starts detached)"),
        ("down", "stop everything `up` started; state survives"),
        ("status", "print where everything listens, with live health"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--state-dir", default=os.environ.get("RELAY_STATE_DIR", ".state"))
        command.add_argument("--timeout", type=float, default=90.0, help="seconds to wait (up/down)")
        if name in ("up", "supervise"):
            command.add_argument("--port-offset", type=int, default=0, help="shift every port by N")
            command.add_argument(
                "--memory-limit", action="append", default=[], metavar="SERVICE=SIZE",
                help="override a service's memory limit, e.g. indexer=2GiB (repeatable)",
            )  # fmt: skip
            command.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return parser


def _up(layout: StateLayout, args: argparse.Namespace, timeout_seconds: float) -> int:
    if read_pid_file(layout) is not None:
        print(f"dev stack already up (state {layout.root})")
        return _status(layout)
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.stack_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "relay_devstack", "supervise", "--state-dir", str(layout.root),
            "--port-offset", str(args.port_offset), "--log-level", args.log_level]  # fmt: skip
    for override in args.memory_limit:
        argv += ["--memory-limit", override]
    with (layout.logs / "supervisor.log").open("ab") as log:
        # A new session detaches it from the terminal, so `up` can return and Ctrl-C here won't reach it.
        supervisor = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    print(f"starting dev stack (supervisor pid {supervisor.pid}, logs in {layout.logs})")
    deadline = time.monotonic() + timeout_seconds
    health: dict[str, bool] = {}
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            print(f"supervisor exited with {supervisor.returncode}; last log lines:", file=sys.stderr)
            print(_tail(layout.logs / "supervisor.log"), file=sys.stderr)
            return 1
        stack = load_stack(layout)
        if stack is not None:
            health = service_health(stack)
            if all(health.values()):
                print(render_table(stack, health))
                return 0
            crashing = [s["name"] for s in stack["services"] if s["restarts"] >= _CRASH_LOOP_RESTARTS]
            if crashing:
                # No point waiting out the timeout for a service that cannot start.
                health = {name: False for name in crashing}
                print(f"crash loop at startup: {', '.join(crashing)}", file=sys.stderr)
                break
        time.sleep(0.25)
    else:
        print(f"timed out after {timeout_seconds:.0f}s", file=sys.stderr)
    down = sorted(name for name, ok in health.items() if not ok)
    print(f"not healthy: {', '.join(down) or 'stack not started'}", file=sys.stderr)
    for name in down:
        print(f"--- {layout.logs / f'{name}.log'}\n{_tail(layout.logs / f'{name}.log')}", file=sys.stderr)
    _down(layout, timeout_seconds)
    return 1


def _down(layout: StateLayout, timeout_seconds: float) -> int:
    pid = read_pid_file(layout)
    if pid is None:
        print("dev stack is not running")
        layout.pid_file.unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if read_pid_file(layout) != pid or not _alive(pid):
            print("dev stack stopped")
            return 0
        time.sleep(0.1)
    print(f"supervisor {pid} still running after {timeout_seconds:.0f}s; see {layout.logs}", file=sys.stderr)
    return 1


def _status(layout: StateLayout) -> int:
    stack = load_stack(layout) if read_pid_file(layout) is not None else None
    if stack is None:
        print("dev stack is not running")
        return 1
    health = service_health(stack)
    print(render_table(stack, health))
    return 0 if all(health.values()) else 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (our own child in tests) is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
