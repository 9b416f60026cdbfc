"""The set of followed hosts: one :class:`Subscription` task each, and their cursor checkpoints.

Cursors are checkpointed to the indexer in one batched ``SetHostCursors`` call every
``cursor_flush_seconds`` and once more at shutdown, after every subscription stopped and its
in-flight publishes settled. Only the contiguous acked prefix is ever written, so a crash at
any point replays frames (de-duplicated by JetStream) and never skips one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from relay_slurper import metrics
from relay_slurper.errors import HostRefused
from relay_slurper.frame_publisher import FramePublisher
from relay_slurper.host_address import HostAddress, matches_domain, parse_host
from relay_slurper.host_store import HostRecord, HostStatus, HostStore
from relay_slurper.rate_limits import RateLimiter, RateLimits, limits_for_host
from relay_slurper.subscription import ConnectionState, Subscription, SubscriptionSettings

__all__ = ["FOLLOWED_STATUSES", "HostRegistry", "RatePolicy"]

logger = logging.getLogger(__name__)

FOLLOWED_STATUSES = (HostStatus.ACTIVE, HostStatus.THROTTLED, HostStatus.OFFLINE)
"""Statuses whose hosts are followed after a restart (offline ones on the slow retry)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RatePolicy:
    """Relay-wide inputs of :func:`limits_for_host`."""

    base: RateLimits
    trusted_multiplier: int
    default_account_limit: int
    trusted_domains: frozenset[str] = frozenset()

    def is_trusted(self, record: HostRecord) -> bool:
        return record.trusted or matches_domain(record.hostname, self.trusted_domains)

    def limits_for(self, record: HostRecord) -> RateLimits:
        return limits_for_host(
            account_limit=record.account_limit or self.default_account_limit,
            trusted=self.is_trusted(record),
            base=self.base,
            trusted_multiplier=self.trusted_multiplier,
            overrides=record.rate_overrides,
        )


class HostRegistry:
    """Starts, stops and lists subscriptions; checkpoints their cursors."""

    def __init__(
        self,
        store: HostStore,
        publisher: FramePublisher,
        settings: SubscriptionSettings,
        rates: RatePolicy,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self._rates = rates
        self._subscriptions: dict[str, Subscription] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._flushed: dict[str, int] = {}
        self._ended_cursors: dict[str, int] = {}
        self._closing = False
        self._urgent = asyncio.Event()

    def is_following(self, hostname: str) -> bool:
        return hostname in self._subscriptions

    def __len__(self) -> int:
        return len(self._subscriptions)

    async def load(self) -> int:
        """Follow every stored host whose status says so; returns how many were started."""
        records = await self._store.list_hosts(FOLLOWED_STATUSES)
        started = 0
        for record in records:
            try:
                address = parse_host(record.hostname, dev_mode=self._settings.dev_mode)
            except HostRefused as exc:
                logger.warning(
                    "stored host no longer valid; skipped",
                    extra={"host": record.hostname, "reason": exc.reason},
                )
                continue
            started += self.follow(record, address)
        logger.info("hosts loaded", extra={"count": started})
        return started

    def follow(self, record: HostRecord, address: HostAddress) -> bool:
        """Start a subscription for ``record`` unless one runs; False when already followed."""
        hostname = address.hostname
        if self._closing or hostname in self._subscriptions:
            return False
        self._flushed.setdefault(hostname, record.cursor)
        # A host kicked and re-added within one flush interval: the store lags our own acks.
        cursor = max(record.cursor, self._ended_cursors.get(hostname, 0), self._flushed[hostname])
        subscription = Subscription(
            address,
            cursor=cursor or None,
            limiter=RateLimiter(self._rates.limits_for(record)),
            publisher=self._publisher,
            settings=self._settings,
            on_status=self._store.set_host_status,
            status=record.status,
            on_first_cursor=self._urgent.set,
        )
        self._subscriptions[hostname] = subscription
        task = asyncio.create_task(subscription.run(), name=f"subscription:{hostname}")
        self._tasks[hostname] = task
        task.add_done_callback(functools.partial(self._ended, subscription))
        metrics.HOSTS_FOLLOWED.set(len(self._subscriptions))
        return True

    async def kick(self, hostname: str) -> bool:
        """Close a host's subscription and mark it idle; False when it was not followed."""
        subscription = self._subscriptions.get(hostname)
        if subscription is None:
            return False
        subscription.stop()
        await asyncio.gather(self._tasks[hostname], return_exceptions=True)
        await self.flush_cursors()
        await self._store.set_host_status(hostname, HostStatus.IDLE, "kicked by an operator")
        return True

    def connections(self) -> list[ConnectionState]:
        return [s.state() for s in self._subscriptions.values()]

    async def run_checkpoints(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """Flush acked cursors every ``interval_seconds`` until ``stop`` is set.

        A host's first cursor is flushed at once (see ``Subscription``'s ``on_first_cursor``).
        """
        while not stop.is_set():
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._urgent.wait())]
            await asyncio.wait(waits, timeout=interval_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
            self._urgent.clear()
            await self.flush_cursors()

    async def flush_cursors(self) -> int:
        """Persist every cursor that moved since the last flush, in one call; returns how many."""
        changed = dict(self._ended_cursors)
        for hostname, subscription in self._subscriptions.items():
            cursor = subscription.acked_cursor
            if cursor is not None and cursor != self._flushed.get(hostname):
                changed[hostname] = cursor
        if not changed:
            return 0
        try:
            await self._store.set_host_cursors(changed)
        except Exception as exc:
            metrics.CURSOR_FLUSHES_TOTAL.labels("failed").inc()
            logger.warning(
                "cursor checkpoint failed; will retry", extra={"hosts": len(changed), "error": repr(exc)}
            )
            return 0
        metrics.CURSOR_FLUSHES_TOTAL.labels("ok").inc()
        self._flushed.update(changed)
        for hostname in changed:
            self._ended_cursors.pop(hostname, None)
        return len(changed)

    async def flush_cursors_hook(self) -> None:
        """:meth:`flush_cursors` shaped as a runtime shutdown hook."""
        await self.flush_cursors()

    async def close(self) -> None:
        """Stop every subscription, wait for their publishes to settle, flush cursors."""
        self._closing = True
        await self.stop_all(list(self._subscriptions))
        await self.flush_cursors()

    async def stop_all(self, hostnames: Iterable[str]) -> None:
        tasks = []
        for hostname in hostnames:
            subscription = self._subscriptions.get(hostname)
            if subscription is not None:
                subscription.stop()
                tasks.append(self._tasks[hostname])
        await asyncio.gather(*tasks, return_exceptions=True)

    def _ended(self, subscription: Subscription, task: asyncio.Task[None]) -> None:
        hostname = subscription.hostname
        if self._subscriptions.get(hostname) is subscription:
            del self._subscriptions[hostname]
            del self._tasks[hostname]
        cursor = subscription.acked_cursor
        if cursor is not None and cursor != self._flushed.get(hostname):
            self._ended_cursors[hostname] = cursor
        metrics.HOSTS_FOLLOWED.set(len(self._subscriptions))
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("subscription crashed", extra={"host": hostname}, exc_info=exc)
