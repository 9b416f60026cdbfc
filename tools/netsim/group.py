"""A group of simulated hosts served by one event loop, and the operations that emit events.

Every emission goes through `HostGroup.send`, which sequences the event on its account's host,
records the ledger entry and updates the tally. Identity changes first update the PLC directory
(through an `IdentityUpdater`) so the `#identity` event a relay sees is already true when it
re-resolves the DID.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TextIO

from relay_core.builders import Signer
from relay_core.keys import PrivateKey
from relay_core.syntax.did import parse_did

from tools.netsim.backlog import Backlog
from tools.netsim.broken import BrokenKind
from tools.netsim.host import SimHost
from tools.netsim.ledger import LedgerEntry, Tally
from tools.netsim.listener import HostListener
from tools.netsim.plc_directory import PlcDirectory, signing_key_for
from tools.netsim.repo import PreparedEvent, RevClock, SimRepo

__all__ = ["DirectoryUpdater", "HostGroup", "IdentityUpdater"]


class IdentityUpdater(Protocol):
    """Changes what the PLC directory serves for a DID (the port a host group writes through)."""

    async def update(
        self, did: str, *, handle: str | None = None, signing_key: str | None = None
    ) -> None: ...


class DirectoryUpdater:
    """Updates a `PlcDirectory` running in this process."""

    def __init__(self, directory: PlcDirectory) -> None:
        self.directory = directory

    async def update(self, did: str, *, handle: str | None = None, signing_key: str | None = None) -> None:
        self.directory.update(did, handle=handle, signing_key=signing_key)


class HostGroup:
    """Hosts `indexes` of a network of `host_count`, each on its own listener.

    Args:
        indexes: which host numbers this group serves.
        host_count: hosts in the whole network (account `i` lives on host `i % host_count`).
        seed: the PLC directory's seed (keys are derived from it).
        backlog_frames: replay window per host.
        ledger_out: when given, every ledger entry is written there as a JSON line.
        keep_ledger: keep entries in `self.ledger` (tests); off for long runs.
        clock_id: TID clock id, distinct per process.
    """

    def __init__(
        self,
        indexes: Sequence[int],
        host_count: int,
        *,
        seed: str,
        backlog_frames: int = 1000,
        ledger_out: TextIO | None = None,
        keep_ledger: bool = True,
        clock_id: int = 0,
    ) -> None:
        self.host_count = host_count
        self.seed = seed
        self.hosts = {i: SimHost(i, 0, backlog=Backlog(max_frames=backlog_frames)) for i in indexes}
        self.listeners = [HostListener(host) for host in self.hosts.values()]
        self.repos: dict[str, SimRepo] = {}
        self.clock = RevClock(clock_id)
        self.tally = Tally()
        self.ledger: list[LedgerEntry] = []
        self._ledger_out = ledger_out
        self._keep_ledger = keep_ledger

    async def start(self) -> None:
        """Open every listener (ports are picked by the OS)."""
        for listener in self.listeners:
            await listener.start()

    async def stop(self) -> None:
        for listener in self.listeners:
            await listener.stop()

    @property
    def ports(self) -> dict[int, int]:
        return {i: host.port for i, host in self.hosts.items()}

    def add_accounts(self, dids: Sequence[str]) -> None:
        """Attach accounts: `dids[i]` is seeded account `i` of the PLC directory.

        Only accounts whose host is in this group are kept; their repos start empty (uncreated).
        """
        for index, did in enumerate(dids):
            host = self.hosts.get(index % self.host_count)
            if host is None:
                continue
            key = signing_key_for(self.seed, index)
            repo = SimRepo(
                index=index,
                did=parse_did(did),
                handle=f"u{index}.pds{host.index}.test",
                signer=Signer(key.to_bytes()),
            )
            host.add_repo(repo)
            self.repos[did] = repo

    def host_of(self, did: str) -> SimHost:
        return self.hosts[self.repos[did].index % self.host_count]

    def send(self, event: PreparedEvent, *, time: str | None = None) -> LedgerEntry:
        """Sequence one prepared event on its account's host and record it.

        Args:
            time: replaces the body's `time` (an event made ahead is stamped when it goes out).
        """
        entry, frame = self.host_of(event.did).sequence(event, time=time)
        self.tally.add(entry, len(frame))
        if self._keep_ledger:
            self.ledger.append(entry)
        if self._ledger_out is not None:
            self._ledger_out.write(entry.to_json_line() + "\n")
        return entry

    def create_account(self, did: str) -> list[LedgerEntry]:
        """Account creation: #identity, #account, genesis #commit, #sync."""
        return [self.send(event) for event in self.prepare_creation(did)]

    def prepare_creation(self, did: str) -> list[PreparedEvent]:
        """The creation sequence, made (the repo is created) but not sent."""
        repo = self.repos[did]
        if repo.created:
            raise ValueError(f"{did} already created")
        return repo.genesis(self.clock)

    def commit(
        self, did: str, *, broken: BrokenKind | None = None, rng_seed: int | None = None
    ) -> LedgerEntry:
        """One record create/update/delete on `did`'s repo, optionally broken."""
        return self.send(self.prepare_commit(did, broken=broken, rng_seed=rng_seed))

    def prepare_commit(
        self, did: str, *, broken: BrokenKind | None = None, rng_seed: int | None = None
    ) -> PreparedEvent:
        """What `commit` sends, made (the repo advances unless broken) but not sent."""
        repo = self.repos[did]
        rng = random.Random(rng_seed if rng_seed is not None else repo.record_counter * 7919 + repo.index)
        wrong = (
            Signer(signing_key_for(self.seed + "/wrong", repo.index).to_bytes())
            if broken is BrokenKind.WRONG_KEY
            else None
        )
        if broken is BrokenKind.BAD_HANDLE:
            return repo.broken_identity()
        if broken is BrokenKind.BAD_ACCOUNT_STATUS:
            return repo.broken_account()
        return repo.mutate(rng, self.clock, broken=broken, wrong_signer=wrong)

    async def change_handle(self, did: str, handle: str, updater: IdentityUpdater) -> LedgerEntry:
        """Update the PLC document's handle, then emit `#identity`."""
        await updater.update(did, handle=handle)
        return self.send(self.prepare_handle_change(did, handle))

    def prepare_handle_change(self, did: str, handle: str) -> PreparedEvent:
        """The repo takes `handle`; the caller updates the PLC directory before sending."""
        return self.repos[did].identity_change(handle)

    async def rotate_key(self, did: str, updater: IdentityUpdater) -> LedgerEntry:
        """Move the account to its next deterministic signing key (PLC first), then `#identity`.

        Later commits are signed with the new key.
        """
        repo = self.repos[did]
        key = signing_key_for(self.seed, repo.index, repo.rotations + 1)
        await updater.update(did, signing_key=key.public_key.did_key())
        return self.send(self._rotated(repo, key))

    def prepare_key_rotation(self, did: str) -> tuple[PreparedEvent, str]:
        """The repo signs with its next key from now on; returns the `#identity` and the new
        did:key, which the caller writes to the PLC directory before sending."""
        repo = self.repos[did]
        key = signing_key_for(self.seed, repo.index, repo.rotations + 1)
        return self._rotated(repo, key), key.public_key.did_key()

    @staticmethod
    def _rotated(repo: SimRepo, key: PrivateKey) -> PreparedEvent:
        repo.rotations += 1
        repo.signer = Signer(key.to_bytes())
        return repo.identity_change(repo.handle)

    def set_status(self, did: str, *, active: bool, status: str | None) -> LedgerEntry:
        """Emit an `#account` status change (e.g. `active=False, status="deactivated"`)."""
        return self.send(self.prepare_status(did, active=active, status=status))

    def prepare_status(self, did: str, *, active: bool, status: str | None) -> PreparedEvent:
        return self.repos[did].account_change(active, status)
