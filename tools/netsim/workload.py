"""The free-running workload: events at a target rate over a host group's accounts.

Each tick the loop works out how many events are due (`rate × elapsed − sent`), makes them and
sequences them, then yields to the event loop so the listeners can write. Making an event is
synchronous CPU work (an MST update, a signature, a CAR, a frame), so the achieved rate is the
target until the process runs out of CPU; the report says which happened.

Mix per event (accounts chosen uniformly): an uncreated account gets its creation sequence
(four events); otherwise about 95% record commits, 2% handle changes, 1% signing-key rotations,
2% deactivations (the account's next
event is its reactivation). With probability `broken_ratio` the event is instead a broken one of a
kind drawn uniformly from `broken_kinds`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from tools.netsim.broken import BrokenKind
from tools.netsim.group import HostGroup, IdentityUpdater

__all__ = ["Workload", "WorkloadResult"]

_TICK_SECONDS: Final = 0.005
_MAX_EVENTS_PER_TICK: Final = 200
"""Bounds one tick's CPU burst so listeners get to write at least every ~50 ms."""


@dataclass(frozen=True, slots=True)
class WorkloadResult:
    events: int
    elapsed_seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


class Workload:
    """Drives a `HostGroup` at `rate` events/s for `duration_seconds`.

    Args:
        group: the hosts and accounts to emit on.
        updater: where identity changes are written before `#identity` goes out.
        rate: target events per second for this group (0 = emit nothing).
        broken_ratio: fraction of events that are broken (0..1).
        seed: makes the choice of accounts, ops and defects reproducible.
        broken_kinds: kinds to draw from (all by default).
        key_rotations: False turns the 1% of signing-key rotations into record commits (to
            compare runs with and without them: a relay behind the stream needs the DID's key
            history for commits signed before a rotation).
    """

    def __init__(
        self,
        group: HostGroup,
        updater: IdentityUpdater,
        *,
        rate: float,
        broken_ratio: float = 0.0,
        seed: str = "netsim",
        broken_kinds: Sequence[BrokenKind] = tuple(BrokenKind),
        key_rotations: bool = True,
    ) -> None:
        if not 0.0 <= broken_ratio <= 1.0:
            raise ValueError("broken_ratio must be within 0..1")
        if not broken_kinds:
            raise ValueError("at least one broken kind is needed")
        self.group = group
        self.updater = updater
        self.rate = rate
        self.broken_ratio = broken_ratio
        self.broken_kinds = tuple(broken_kinds)
        self.key_rotations = key_rotations
        self.rng = random.Random(seed)
        self.dids = sorted(group.repos)
        self.created: list[str] = [did for did in self.dids if group.repos[did].created]

    async def step(self) -> int:
        """Emit the next event (or creation sequence); returns how many frames went out."""
        did = self.rng.choice(self.dids)
        repo = self.group.repos[did]
        if not repo.created:
            self.created.append(did)
            return len(self.group.create_account(did))
        if not repo.active:
            # A PDS emits nothing for a deactivated account but its reactivation.
            self.group.set_status(did, active=True, status=None)
            return 1
        if self.rng.random() < self.broken_ratio:
            kind = self.rng.choice(self.broken_kinds)
            self.group.commit(did, broken=kind, rng_seed=self.rng.getrandbits(32))
            return 1
        roll = self.rng.random()
        if roll < 0.02:
            await self.group.change_handle(
                did,
                f"u{repo.index}-{repo.record_counter}.pds{self.group.host_of(did).index}.test",
                self.updater,
            )
        elif roll < 0.03 and self.key_rotations:
            await self.group.rotate_key(did, self.updater)
        elif 0.03 <= roll < 0.05:
            self.group.set_status(did, active=False, status="deactivated")
        else:
            self.group.commit(did, rng_seed=self.rng.getrandbits(32))
        return 1

    async def run(self, duration_seconds: float) -> WorkloadResult:
        """Emit for `duration_seconds` (wall clock) at the target rate, then return."""
        start = time.monotonic()
        cpu_start = time.process_time()
        sent = 0
        deadline = start + duration_seconds
        while (now := time.monotonic()) < deadline:
            due = min(int(self.rate * (now - start)) - sent, _MAX_EVENTS_PER_TICK)
            burst_end = now + _TICK_SECONDS
            while due > 0 and time.monotonic() < burst_end:
                emitted = await self.step()
                sent += emitted
                due -= emitted
            await asyncio.sleep(_TICK_SECONDS if due <= 0 else 0)
        elapsed = time.monotonic() - start
        return WorkloadResult(sent, elapsed, time.process_time() - cpu_start)
