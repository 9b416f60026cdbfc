"""Prometheus metrics of the validator (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets (`EventKind`, `DropReason`, fixed literals). gRPC call counts and
readiness come from relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "CACHE_LOOKUPS_TOTAL",
    "DEPENDENCY_FAILURES_TOTAL",
    "EVENTS_DROPPED_TOTAL",
    "EVENTS_VERIFIED_TOTAL",
    "IDENTITY_REFRESHES_TOTAL",
    "IDENTITY_WAITS_TOTAL",
    "RAW_WAIT_SECONDS",
    "KEY_HISTORY_LOOKUPS_TOTAL",
    "EARLIER_KEY_VERIFICATIONS_TOTAL",
    "STALLED_PARTITIONS",
    "STALLED_FRAMES",
    "VERIFY_WORKER_RESTARTS_TOTAL",
]

EVENTS_VERIFIED_TOTAL: Final = Counter(
    "relay_validator_events_verified_total", "Events accepted and published to VERIFIED, by kind.", ["kind"]
)

EVENTS_DROPPED_TOTAL: Final = Counter(
    "relay_validator_events_dropped_total", "Frames dropped, by bounded reason.", ["reason"]
)

BATCH_SECONDS: Final = Histogram(
    "relay_validator_batch_seconds",
    "Wall time to judge, publish, persist and ack one batch of frames.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

RAW_WAIT_SECONDS: Final = Histogram(
    "relay_validator_raw_wait_seconds",
    "Time a frame waited in RAW_FRAMES (stored → taken for judging), first deliveries only.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

CACHE_LOOKUPS_TOTAL: Final = Counter(
    "relay_validator_cache_lookups_total",
    "Account-state and identity cache lookups (cache=account|identity, result=hit|miss).",
    ["cache", "result"],
)

IDENTITY_REFRESHES_TOTAL: Final = Counter(
    "relay_validator_identity_refreshes_total",
    "Fresh re-resolutions after a mismatch (reason=signature_mismatch|wrong_host|identity_event).",
    ["reason"],
)

KEY_HISTORY_LOOKUPS_TOTAL: Final = Counter(
    "relay_validator_key_history_lookups_total",
    "Key histories asked of the resolver after a signature failed with a fresh current key "
    "(result=found|none|unavailable).",
    ["result"],
)

EARLIER_KEY_VERIFICATIONS_TOTAL: Final = Counter(
    "relay_validator_earlier_key_verifications_total",
    "Commits and syncs accepted with a key the DID had before its current one (judged behind a rotation).",
)

IDENTITY_WAITS_TOTAL: Final = Counter(
    "relay_validator_identity_waits_total",
    "Times a partition stopped at an event whose identity could not be resolved yet (never passed).",
)

DEPENDENCY_FAILURES_TOTAL: Final = Counter(
    "relay_validator_dependency_failures_total",
    "Batches retried because a dependency failed (dependency=resolver|indexer|nats).",
    ["dependency"],
)

STALLED_PARTITIONS: Final = Gauge(
    "relay_validator_stalled_partitions", "Partitions currently waiting on a dependency or an identity."
)

STALLED_FRAMES: Final = Gauge(
    "relay_validator_stalled_frames",
    "Frames held (fetched, not yet judged) by stalled partitions: the bounded wait queue.",
)

VERIFY_WORKER_RESTARTS_TOTAL: Final = Counter(
    "relay_validator_verify_worker_restarts_total",
    "Verify worker processes replaced after dying while holding a batch (the batch is verified again).",
)
