"""A PostgreSQL 16 cluster from the binaries bundled in the `pgserver` wheel.

We drive the bundled `initdb`/`pg_ctl` ourselves instead of calling `pgserver.get_server()` because
that helper registers `atexit` hooks, takes a lock in the user runtime dir, polls readiness with
one-second sleeps and offers no way to set server options. Here we control where the socket lives,
whether the cluster is tuned for throwaway test data (fsync off), and exactly when it stops.

Layout under ``root`` (``<state>/postgres`` for the dev stack)::

    data/            PGDATA (survives `down`/`up`)
    socket/          unix socket directory (no TCP listener at all)
    postgres.log     server log

PostgreSQL refuses to run as root, so as root the server runs as the unprivileged ``pgserver`` OS
user (created with `useradd` if missing), which owns ``root`` and must be able to traverse its
parent directories.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from relay_devstack.errors import BinaryNotFound, DevstackError

__all__ = ["PostgresCluster", "ServerUser", "postgres_bin_dir"]

_PORT = 5432
"""Only names the socket file (``.s.PGSQL.5432``); there is no TCP listener."""
_SERVER_OS_USER = "pgserver"
_MAX_SOCKET_PATH_BYTES = 100
"""sun_path is 108 bytes on Linux; keep a margin."""
_DATABASE_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def postgres_bin_dir() -> Path:
    """The ``bin/`` directory of the PostgreSQL build shipped in the `pgserver` wheel.

    Raises:
        BinaryNotFound: the wheel is not installed.
    """
    # find_spec does not execute the package: importing pgserver itself creates platformdirs paths
    # and warns when XDG_RUNTIME_DIR is unset, which our tests turn into errors.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise BinaryNotFound("pgserver is not installed; run `uv sync`")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").is_file():
        raise BinaryNotFound(f"no pg_ctl in {bin_dir}")
    return bin_dir


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The OS identity the server runs as: ourselves, or ``pgserver`` when we are root."""

    uid: int
    gid: int

    @classmethod
    def for_current_process(cls) -> ServerUser | None:
        """None means "run as ourselves"; as root, ensure the ``pgserver`` user exists."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(_SERVER_OS_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVER_OS_USER],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(_SERVER_OS_USER)
        return cls(uid=entry.pw_uid, gid=entry.pw_gid)

    def subprocess_kwargs(self) -> dict[str, Any]:
        # extra_groups=[] drops root's supplementary groups too.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


class PostgresCluster:
    """One PostgreSQL cluster: init on first start, start, stop, create/drop databases."""

    def __init__(self, root: Path, *, database: str = "relay", tuned_for_tests: bool = False) -> None:
        self.root = root.resolve()
        self.pgdata = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.database = database
        self.tuned_for_tests = tuned_for_tests
        self._bin = postgres_bin_dir()
        self._user = ServerUser.for_current_process()
        self.socket_dir = _choose_socket_dir(self.root / "socket")

    def dsn(self, database: str | None = None) -> str:
        """An asyncpg/libpq URL over the unix socket."""
        return f"postgresql://postgres@/{database or self.database}?host={self.socket_dir}"

    def start(self, timeout_seconds: int = 30) -> str:
        """Initialise if needed, start if not running, ensure the default database; return its DSN."""
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run_as_server(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-instructions",
            )  # fmt: skip
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude_if_exists = 'relay.conf'\n")
        self._write_relay_conf()
        if not self.is_running():
            self._run_as_server(
                "pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_path),
                "-w", "-t", str(timeout_seconds), "start",
            )  # fmt: skip
        self.create_database(self.database, exist_ok=True)
        return self.dsn()

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit."""
        if self.is_running():
            self._run_as_server("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        status = subprocess.run(
            [str(self._bin / "pg_ctl"), "-D", str(self.pgdata), "status"],
            capture_output=True,
            **(self._user.subprocess_kwargs() if self._user else {}),
        )
        return status.returncode == 0

    def create_database(self, name: str, *, exist_ok: bool = False) -> None:
        _check_database_name(name)
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"
        if exists and exist_ok:
            return
        self.psql(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        _check_database_name(name)
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def psql(self, sql: str) -> str:
        """Run one statement through the bundled `psql` (no event loop needed); return unaligned rows."""
        result = subprocess.run(
            [str(self._bin / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.socket_dir), "-p", str(_PORT), "-U", "postgres", "-d", "postgres", "-c", sql],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise DevstackError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._user is None:
            return
        for path in (self.root, self.pgdata, self.socket_dir):
            os.chown(path, self._user.uid, self._user.gid)
        if self.log_path.exists():
            os.chown(self.log_path, self._user.uid, self._user.gid)
        _ensure_traversable(self.root.parent)
        _ensure_traversable(self.socket_dir.parent)

    def _write_relay_conf(self) -> None:
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(_PORT),
            "max_connections": "200",
        }
        if self.tuned_for_tests:
            # Throwaway clusters only: a crash may lose or corrupt data, which tests never keep.
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        conf = self.pgdata / "relay.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        if self._user is not None:
            os.chown(conf, self._user.uid, self._user.gid)

    def _run_as_server(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self._bin / program), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            **(self._user.subprocess_kwargs() if self._user else {}),
        )
        if result.returncode != 0:
            log_tail = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
            raise DevstackError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log_tail}"
            )

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _choose_socket_dir(preferred: Path) -> Path:
    """The preferred dir, or a short per-cluster dir in /tmp when its path is too long for sun_path."""
    if len(str(preferred / f".s.PGSQL.{_PORT}").encode()) <= _MAX_SOCKET_PATH_BYTES:
        return preferred
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return Path("/tmp") / f"relay-pg-{digest}"


def _ensure_traversable(path: Path) -> None:
    """Add o+x to ``path`` and each ancestor, so the ``pgserver`` user can reach its files."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


def _check_database_name(name: str) -> None:
    # Names are interpolated into SQL, so only allow what test fixtures and the dev stack generate.
    if not name or not set(name) <= _DATABASE_NAME_OK:
        raise DevstackError(f"database name {name!r} must match [a-z0-9_]+")
