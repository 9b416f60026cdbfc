"""Prometheus metrics of the slurper (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together. There is no host
label: with thousands of hosts it would be unbounded; per-host numbers are served by the
ListConnections RPC instead. Every label value below comes from a fixed set (the ``reason``
values are the ``reason`` strings of :mod:`relay_slurper.errors` and the constants in
:mod:`relay_slurper.subscription`). gRPC call counts and readiness come from relay_runtime.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CONNECT_FAILURES_TOTAL",
    "CURSOR_FLUSHES_TOTAL",
    "DISCONNECTS_TOTAL",
    "FRAMES_DROPPED_TOTAL",
    "FRAMES_PUBLISHED_TOTAL",
    "FRAMES_RECEIVED_TOTAL",
    "HOSTS_CONNECTED",
    "HOSTS_FOLLOWED",
    "HOSTS_REFUSED_TOTAL",
    "PUBLISHES_IN_FLIGHT",
    "PUBLISH_FAILURES_TOTAL",
    "PUBLISH_SECONDS",
    "RATE_LIMITED_SECONDS_TOTAL",
]

FRAMES_RECEIVED_TOTAL: Final = Counter(
    "relay_slurper_frames_received_total", "Binary frames read from upstream hosts.", []
)
FRAMES_PUBLISHED_TOTAL: Final = Counter(
    "relay_slurper_frames_published_total", "Frames acked by RAW_FRAMES.", []
)
FRAMES_DROPPED_TOTAL: Final = Counter(
    "relay_slurper_frames_dropped_total",
    "Frames read but not published, by reason (seq_not_increasing, info, bad_frame, missing_seq, "
    "frame_too_big).",
    ["reason"],
)
PUBLISH_FAILURES_TOTAL: Final = Counter(
    "relay_slurper_publish_failures_total",
    "Publishes JetStream refused or did not ack in time (the host replays from its cursor).",
    ["reason"],
)
PUBLISHES_IN_FLIGHT: Final = Gauge(
    "relay_slurper_publishes_in_flight", "Publishes awaiting a JetStream ack, all hosts together.", []
)
PUBLISH_SECONDS: Final = Histogram(
    "relay_slurper_publish_ack_seconds",
    "Time from publish to JetStream ack.",
    [],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
HOSTS_CONNECTED: Final = Gauge("relay_slurper_hosts_connected", "Upstream subscriptions currently open.", [])
HOSTS_FOLLOWED: Final = Gauge(
    "relay_slurper_hosts_followed", "Hosts with a subscription task (connected or backing off).", []
)
CONNECT_FAILURES_TOTAL: Final = Counter(
    "relay_slurper_connect_failures_total", "Failed connection attempts, by reason.", ["reason"]
)
DISCONNECTS_TOTAL: Final = Counter(
    "relay_slurper_disconnects_total",
    "Open subscriptions that ended, by reason (closed, frame_too_big, bad_frame, ...).",
    ["reason"],
)
HOSTS_REFUSED_TOTAL: Final = Counter(
    "relay_slurper_hosts_refused_total",
    "Hosts refused by admission (requestCrawl, AddHost, upstream list), by reason.",
    ["reason"],
)
RATE_LIMITED_SECONDS_TOTAL: Final = Counter(
    "relay_slurper_rate_limited_seconds_total",
    "Seconds subscriptions spent not reading because a host was over a rate window.",
    [],
)
CURSOR_FLUSHES_TOTAL: Final = Counter(
    "relay_slurper_cursor_flushes_total",
    "Batched cursor checkpoints to the indexer, by outcome.",
    ["outcome"],
)
