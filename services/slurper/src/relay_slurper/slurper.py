"""The slurper assembled: publisher, registry, admission and the loops that run beside them.

Kept out of ``main.py`` so integration tests and the benchmark build the very same object from
a config, a :class:`HostStore` and a JetStream context.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from nats.js import JetStreamContext
from relay_runtime.readiness import CheckResult

from relay_slurper.admission import HostAdmission
from relay_slurper.backoff import BackoffPolicy
from relay_slurper.config import SlurperConfig
from relay_slurper.frame_publisher import FramePublisher
from relay_slurper.host_registry import HostRegistry, RatePolicy
from relay_slurper.host_store import CrawlPolicy, HostStore
from relay_slurper.rate_limits import RateLimits
from relay_slurper.request_crawl import HttpServer, create_app
from relay_slurper.subscription import SubscriptionSettings
from relay_slurper.tls import client_ssl_context, limit_tls_read_buffer
from relay_slurper.upstream_hosts import UpstreamPoller

__all__ = ["Slurper"]

logger = logging.getLogger(__name__)

_LOAD_RETRY_SECONDS: Final = 2.0


class Slurper:
    """Everything the service runs, built from its config and its two I/O ports."""

    def __init__(self, config: SlurperConfig, store: HostStore, js: JetStreamContext) -> None:
        self.config = config
        self.store = store
        dev_mode = config.runtime.dev_mode
        limit_tls_read_buffer()
        self.ssl_context = client_ssl_context(config.extra_ca_file)
        self.publisher = FramePublisher(
            js,
            partitions=config.raw_partitions,
            max_in_flight=config.max_in_flight,
            ack_timeout_seconds=config.publish_ack_timeout_seconds,
            # A span per frame only where spans go somewhere; the trace context travels either way.
            record_spans=bool(config.runtime.otel_endpoint),
        )
        settings = SubscriptionSettings(
            ssl_context=self.ssl_context,
            dev_mode=dev_mode,
            max_frame_bytes=config.max_frame_bytes,
            ping_interval_seconds=config.ping_interval_seconds,
            open_timeout_seconds=config.probe_timeout_seconds,
            backoff=BackoffPolicy(
                base_seconds=config.backoff_base_seconds,
                max_seconds=config.backoff_max_seconds,
                offline_after=config.offline_after_failures,
                offline_retry_seconds=config.offline_retry_seconds,
            ),
            ack_timeout_seconds=config.publish_ack_timeout_seconds,
        )
        trusted = frozenset(d.lower().strip(".") for d in config.trusted_domains)
        rates = RatePolicy(
            base=RateLimits(
                per_second=config.rate_per_second, per_hour=config.rate_per_hour, per_day=config.rate_per_day
            ),
            trusted_multiplier=config.trusted_rate_multiplier,
            default_account_limit=config.default_account_limit,
            trusted_domains=trusted,
        )
        self.registry = HostRegistry(store, self.publisher, settings, rates)
        self.admission = HostAdmission(
            store,
            self.registry,
            ssl_context=self.ssl_context,
            dev_mode=dev_mode,
            trusted_domains=trusted,
            default_policy=CrawlPolicy(
                public_request_crawl=config.public_request_crawl, new_hosts_per_day=config.new_hosts_per_day
            ),
            probe_timeout_seconds=config.probe_timeout_seconds,
        )
        self.upstream: UpstreamPoller | None = None
        """The listHosts bootstrap; None when ``RELAY_SLURPER_UPSTREAM_RELAY`` is off."""
        if config.upstream_enabled:
            self.upstream = UpstreamPoller(
                self.admission,
                store,
                self.registry,
                upstream=config.upstream_relay,
                dev_mode=dev_mode,
                ssl_context=self.ssl_context,
                admit_concurrency=config.upstream_admit_concurrency,
            )
        self.http = HttpServer(
            create_app(self.admission), host=config.runtime.bind_host, port=config.http_port
        )
        self.loaded = asyncio.Event()

    def ready(self) -> CheckResult:
        """Readiness: the stored hosts were loaded (which needs the indexer)."""
        return CheckResult(self.loaded.is_set(), "hosts not loaded from the indexer yet")

    async def run(self, stop: asyncio.Event) -> None:
        """Serve requestCrawl, follow hosts, checkpoint cursors; on ``stop`` wind down in order."""
        http = asyncio.create_task(self.http.serve(stop))
        await self._load(stop)
        loops = [asyncio.create_task(self.registry.run_checkpoints(stop, self.config.cursor_flush_seconds))]
        if self.upstream is not None:
            loops.append(asyncio.create_task(self.upstream.run(stop, self.config.upstream_poll_seconds)))
        await stop.wait()
        await http
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.registry.close()
        await self.publisher.close()
        await self.admission.close()

    async def _load(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.admission.load_policy()
                await self.registry.load()
            except Exception as exc:
                logger.warning("loading hosts from the indexer failed; retrying", extra={"error": repr(exc)})
                try:
                    await asyncio.wait_for(stop.wait(), _LOAD_RETRY_SECONDS)
                except TimeoutError:
                    continue
                return
            self.loaded.set()
            return
