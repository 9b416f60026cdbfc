"""`Network`: the simulator as a library, for tests that drive exact scenarios.

    async with Network.start(hosts=3, accounts_per_host=5) as net:
        await net.create_all()                      # creation sequence for every account
        entry = net.commit(net.dids[0])             # one good commit
        net.commit(net.dids[1], broken=BrokenKind.HIGH_S)
        url = net.subscribe_url(0, cursor=0)        # ws://localhost:<port>/xrpc/...subscribeRepos
        net.ledger                                  # everything sent, in order

Everything runs in the caller's event loop: the PLC directory (`plc_directory`, on its own port)
and every host listener. Nothing is emitted unless asked (`rate=0` in CLI terms); `run()` starts
the free-running workload for a bounded time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tools.netsim.broken import BrokenKind
from tools.netsim.group import DirectoryUpdater, HostGroup
from tools.netsim.host import SimHost
from tools.netsim.ledger import LedgerEntry
from tools.netsim.listener import SUBSCRIBE_PATH
from tools.netsim.plc_directory import PlcDirectory, running_plc_directory
from tools.netsim.workload import Workload, WorkloadResult

__all__ = ["Network"]


@dataclass(slots=True)
class Network:
    """A running simulated network (see the module docstring)."""

    group: HostGroup
    directory: PlcDirectory
    plc_url: str

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        *,
        hosts: int,
        accounts_per_host: int,
        seed: str = "netsim",
        backlog_frames: int = 1000,
    ) -> AsyncIterator[Network]:
        """Start the PLC directory and `hosts` listeners; register `hosts × accounts_per_host` DIDs.

        Accounts exist in the PLC directory from the start; their repos are created (with the
        creation sequence on the firehose) by `create_account` / `create_all` / the workload.
        """
        if hosts < 1 or accounts_per_host < 0:
            raise ValueError("need at least one host and a non-negative account count")
        group = HostGroup(range(hosts), hosts, seed=seed, backlog_frames=backlog_frames)
        await group.start()
        try:
            directory = PlcDirectory(seed, [group.hosts[i].url for i in range(hosts)])
            group.add_accounts(directory.add_accounts(hosts * accounts_per_host))
            async with running_plc_directory(directory) as plc_url:
                yield cls(group, directory, plc_url)
        finally:
            await group.stop()

    @property
    def hosts(self) -> list[SimHost]:
        return [self.group.hosts[i] for i in sorted(self.group.hosts)]

    @property
    def host_urls(self) -> list[str]:
        return [host.url for host in self.hosts]

    @property
    def dids(self) -> list[str]:
        """Every account's DID, in PLC account order (account `i` lives on host `i % hosts`)."""
        return self.directory.seeded_dids(0, self.directory.seeded_count)

    @property
    def ledger(self) -> list[LedgerEntry]:
        return self.group.ledger

    def subscribe_url(self, host: int, cursor: int | None = None) -> str:
        base = f"ws://localhost:{self.group.hosts[host].port}{SUBSCRIBE_PATH}"
        return base if cursor is None else f"{base}?cursor={cursor}"

    def host_of(self, did: str) -> SimHost:
        return self.group.host_of(did)

    def create_account(self, did: str) -> list[LedgerEntry]:
        return self.group.create_account(did)

    def create_all(self) -> list[LedgerEntry]:
        """Creation sequences for every not-yet-created account, in account order."""
        return [e for did in self.dids if not self.group.repos[did].created for e in self.create_account(did)]

    def commit(self, did: str, *, broken: BrokenKind | None = None) -> LedgerEntry:
        """One record op on `did`'s repo (`broken` also covers `bad_handle`/`bad_account_status`)."""
        return self.group.commit(did, broken=broken)

    async def change_handle(self, did: str, handle: str) -> LedgerEntry:
        return await self.group.change_handle(did, handle, DirectoryUpdater(self.directory))

    async def rotate_key(self, did: str) -> LedgerEntry:
        return await self.group.rotate_key(did, DirectoryUpdater(self.directory))

    def set_status(self, did: str, *, active: bool, status: str | None = None) -> LedgerEntry:
        return self.group.set_status(did, active=active, status=status)

    async def run(
        self, *, rate: float, duration_seconds: float, broken_ratio: float = 0.0, seed: str = "netsim"
    ) -> WorkloadResult:
        """Run the free-running workload for a bounded time (see `tools.netsim.workload`)."""
        workload = Workload(
            self.group, DirectoryUpdater(self.directory), rate=rate, broken_ratio=broken_ratio, seed=seed
        )
        return await workload.run(duration_seconds)
