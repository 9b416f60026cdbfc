"""`up`/`status`/`down` against a real supervisor process with NATS, Postgres and migrations.

The supervisor runs the real daemon code; only the six services are stand-ins (fake_service.py)
that honour the same env contract, so this test does not depend on the services' own progress.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from relay_devstack.cli import main
from relay_devstack.stack import StateLayout

pytestmark = pytest.mark.integration

FAKE_SERVICE = Path(__file__).with_name("fake_service.py")
# Runs the real daemon with stand-in services; its command line names relay_devstack, which is
# what `down`/`status` check before trusting the pid file.
LAUNCH = """
import asyncio, dataclasses, sys
from pathlib import Path
from relay_devstack.daemon import configure_daemon_logging, run_stack
from relay_devstack.stack import StackConfig, build_service_specs
state, offset, fake = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = StackConfig(state_dir=state, port_offset=offset, poll_interval_seconds=0.2)
configure_daemon_logging("INFO")
def fakes(nats_url, database_url):
    return [dataclasses.replace(s, argv=(sys.executable, fake, s.name))
            for s in build_service_specs(config, nats_url=nats_url, database_url=database_url)]
sys.exit(asyncio.run(run_stack(config, build_specs=fakes)))
"""


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Outside pytest's 0700 tmp root: as root, Postgres runs as another user that must reach it.
    path = Path(tempfile.mkdtemp(prefix="relay-stack-"))
    yield path / "state"
    shutil.rmtree(path, ignore_errors=True)


def launch(state_dir: Path, offset: int) -> subprocess.Popen[bytes]:
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "launch.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(state_dir), str(offset), str(FAKE_SERVICE)], stdout=log, stderr=log
    )


def wait_healthy(
    state_dir: Path, process: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, (state_dir / "launch.log").read_text()
        if main(["status", "--state-dir", str(state_dir)]) == 0:
            return capsys.readouterr().out
        time.sleep(0.2)
    raise AssertionError("stack not healthy:\n" + capsys.readouterr().out)


async def test_up_status_down_and_state_survives(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    offset = random.randrange(10_000, 13_000)
    layout = StateLayout(state_dir)
    process = launch(state_dir, offset)
    try:
        table = wait_healthy(state_dir, process, capsys)
        assert f"public origin  http://127.0.0.1:{2470 + offset}" in table
        assert f"nats://127.0.0.1:{4222 + offset}" in table
        assert int(layout.pid_file.read_text()) == process.pid
        stack = json.loads(layout.stack_file.read_text())
        assert [s["name"] for s in stack["services"]] == ["slurper", "validator", "resolver", "indexer",
                                                          "firehose", "admin"]  # fmt: skip
        assert (layout.logs / "indexer.log").read_text().startswith("indexer ready")

        # `up` again is a no-op that reports the running stack.
        assert main(["up", "--state-dir", str(state_dir)]) == 0
        assert "already up" in capsys.readouterr().out

        # Migrations ran against the `relay` database; the router reaches the indexer.
        conn = await asyncpg.connect(stack["postgres"]["dsn"])
        try:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 1
            await conn.execute("CREATE TABLE survives_restart (x int)")
        finally:
            await conn.close()
        async with httpx.AsyncClient() as client:
            routed = await client.get(f"{stack['router']['origin']}/xrpc/com.atproto.sync.listRepos")
        assert routed.json()["service"] == "indexer"

        assert main(["down", "--state-dir", str(state_dir)]) == 0
        assert process.wait(10) == 0
        assert not layout.pid_file.exists() and not layout.stack_file.exists()
        assert main(["status", "--state-dir", str(state_dir)]) == 1
        assert "not running" in capsys.readouterr().out

        # Second start reuses the cluster: data is still there.
        process = launch(state_dir, offset)
        wait_healthy(state_dir, process, capsys)
        conn = await asyncpg.connect(json.loads(layout.stack_file.read_text())["postgres"]["dsn"])
        try:
            assert await conn.fetchval("SELECT to_regclass('survives_restart')::text") == "survives_restart"
        finally:
            await conn.close()
        assert main(["down", "--state-dir", str(state_dir)]) == 0
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)
