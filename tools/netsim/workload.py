"""The free-running workload: events at a target rate over a host group's accounts.

Each tick the loop works out how many events are due (`rate × elapsed − sent`), makes them and
sequences them, then yields to the event loop so the listeners can write. Making an event is
synchronous CPU work (an MST update, a signature, a CAR, a frame), so the achieved rate is the
target until the process runs out of CPU; the report says which happened.

Mix per event (accounts chosen uniformly): an uncreated account gets its creation sequence
(four events); otherwise about 95% record commits, 2% handle changes, 1% signing-key rotations,
2% deactivations (the account's next event is its reactivation). With probability `broken_ratio`
the event is instead a broken one of a kind drawn uniformly from `broken_kinds`.

`prepare(n)` makes the first `n` frames ahead of `run`, so that while it emits the simulator
costs little more than its WebSocket sends (for benchmarks where it shares the CPU with a relay).
`create_all()` sends every account's creation sequence first, for a measurement of the steady
state: with a few hundred accounts, a run that starts cold creates all of them in its first
fraction of a second, a storm of new accounts a real network at that rate does not have.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from relay_core.builders import now_iso

from tools.netsim.broken import BrokenKind
from tools.netsim.group import HostGroup, IdentityUpdater
from tools.netsim.repo import PreparedEvent

__all__ = ["Workload", "WorkloadResult"]

_TICK_SECONDS: Final = 0.005
_MAX_EVENTS_PER_TICK: Final = 200
"""Bounds one tick's CPU burst so listeners get to write at least every ~50 ms."""


@dataclass(frozen=True, slots=True)
class _Emission:
    """One frame to send, with the PLC change (if any) to make right before it."""

    event: PreparedEvent
    handle: str | None = None
    signing_key: str | None = None


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
        self._prepared: deque[_Emission] = deque()

    def prepare(self, frames: int) -> float:
        """Make (and sign) at least `frames` frames now, for `run` to send later; returns the CPU
        seconds it took.

        `run` then sends them at the target rate, each stamped with its send time in the body's
        `time` (which no signature covers), and costs little more than the sends themselves; past
        the prepared frames it makes events as it goes. Identity changes are written to the PLC
        directory at send time, right before their `#identity`, as in the live mode. What a
        prepared run sends is exactly what a live run with the same seed sends, but the repos run
        ahead of the frames: listRepos/describeRepo already answer with the prepared state, and
        each rev and record `createdAt` is from when it was made, so a frame's rev is older than
        its `time` by up to the preparation lead (the relay's key history allows 300 s of clock
        difference around a rotation: keep the lead well under it).
        """
        cpu_start = time.process_time()
        made = 0
        while made < frames:
            batch = self._next()
            self._prepared.extend(batch)
            made += len(batch)
        return time.process_time() - cpu_start

    async def create_all(self) -> int:
        """Send the creation sequence of every account not created yet, in a random order, at
        `rate`; returns the frames sent. Call before `prepare`, or the prepared frames hold them."""
        pending = [did for did in self.dids if not self.group.repos[did].created]
        self.rng.shuffle(pending)
        start = time.monotonic()
        sent = 0
        for did in pending:
            self.created.append(did)
            for event in self.group.prepare_creation(did):
                await self._emit(_Emission(event), now_iso())
                sent += 1
            ahead = sent / self.rate - (time.monotonic() - start) if self.rate > 0 else 0.0
            await asyncio.sleep(max(ahead, 0.0))
        return sent

    @property
    def prepared(self) -> int:
        """Frames made by `prepare` and not sent yet."""
        return len(self._prepared)

    async def step(self) -> int:
        """Emit the next event (or creation sequence); returns how many frames went out."""
        batch = self._next()
        for emission in batch:
            await self._emit(emission, None)
        return len(batch)

    def _next(self) -> list[_Emission]:
        """Choose and make the next event (or creation sequence), without sending it."""
        did = self.rng.choice(self.dids)
        group = self.group
        repo = group.repos[did]
        if not repo.created:
            self.created.append(did)
            return [_Emission(event) for event in group.prepare_creation(did)]
        if not repo.active:
            # A PDS emits nothing for a deactivated account but its reactivation.
            return [_Emission(group.prepare_status(did, active=True, status=None))]
        if self.rng.random() < self.broken_ratio:
            kind = self.rng.choice(self.broken_kinds)
            return [_Emission(group.prepare_commit(did, broken=kind, rng_seed=self.rng.getrandbits(32)))]
        roll = self.rng.random()
        if roll < 0.02:
            handle = f"u{repo.index}-{repo.record_counter}.pds{group.host_of(did).index}.test"
            return [_Emission(group.prepare_handle_change(did, handle), handle=handle)]
        if roll < 0.03 and self.key_rotations:
            event, signing_key = group.prepare_key_rotation(did)
            return [_Emission(event, signing_key=signing_key)]
        if 0.03 <= roll < 0.05:
            return [_Emission(group.prepare_status(did, active=False, status="deactivated"))]
        return [_Emission(group.prepare_commit(did, rng_seed=self.rng.getrandbits(32)))]

    async def _emit(self, emission: _Emission, stamp: str | None) -> None:
        event = emission.event
        if emission.handle is not None or emission.signing_key is not None:
            # The directory first: the #identity a relay sees must already be true when it
            # re-resolves the DID.
            await self.updater.update(event.did, handle=emission.handle, signing_key=emission.signing_key)
        self.group.send(event, time=stamp)

    async def run(self, duration_seconds: float) -> WorkloadResult:
        """Emit for `duration_seconds` (wall clock) at the target rate, then return.

        Frames made by `prepare` go first (stamped with their send time), then live ones.
        """
        start = time.monotonic()
        cpu_start = time.process_time()
        sent = 0
        deadline = start + duration_seconds
        prepared = self._prepared
        while (now := time.monotonic()) < deadline:
            due = min(int(self.rate * (now - start)) - sent, _MAX_EVENTS_PER_TICK)
            while due > 0 and prepared:
                await self._emit(prepared.popleft(), now_iso())
                sent += 1
                due -= 1
            burst_end = now + _TICK_SECONDS
            while due > 0 and time.monotonic() < burst_end:
                emitted = await self.step()
                sent += emitted
                due -= emitted
            await asyncio.sleep(_TICK_SECONDS if due <= 0 else 0)
        elapsed = time.monotonic() - start
        return WorkloadResult(sent, elapsed, time.process_time() - cpu_start)
