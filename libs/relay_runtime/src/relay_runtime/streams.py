"""THE NATS contract: every JetStream stream, subject and durable consumer of the relay.

Data walks one way::

    slurper ──RawFrame──▶ RAW_FRAMES (relay.raw.<partition>) ──▶ validator (one consumer per partition)
    validator ──VerifiedEvent──▶ VERIFIED (relay.verified.<kind>) ──▶ firehose replicas, indexer

VERIFIED is also the replay log: its stream sequence is the relay ``seq`` consumers see, and its
retention is the replay window (docs/decisions/0003-stream-seq-is-relay-seq.md). Firehose replicas
read it with their own ephemeral consumers and hold no durable state.

Payloads are the protobuf messages in ``proto/relay/events/v1``; trace context rides in NATS
headers. No other module spells a subject or stream name: import them from here.

Partitioning. The validator must see one host's frames in upstream order, and two replicas must
never judge the same host concurrently. The slurper therefore publishes each host's frames to
``relay.raw.<partition_for_host(host, N)>`` and each validator replica owns whole partitions via
the durable consumer ``validator-p<partition>``. The hash is stable across processes and Python
versions (BLAKE2b, not ``hash()``), so N must be the same for slurper and validator
(``RELAY_RAW_PARTITIONS``); changing N reshuffles hosts and should be done with the pipeline
drained.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFAULT_RAW_PARTITIONS",
    "INDEXER",
    "RAW_FRAMES",
    "VERIFIED",
    "ConsumerDef",
    "Retention",
    "StreamDef",
    "partition_for_host",
    "raw_frame_msg_id",
    "raw_subject",
    "validator_consumer",
    "verified_msg_id",
    "verified_subject",
]

DEFAULT_RAW_PARTITIONS: Final = 16
"""Default number of RAW_FRAMES partitions; upper bound on useful validator replicas.

Each partition is judged by one serial loop (batch → verify → publish); with 8, one replica
drained 4,684–4,917 commits/s on 2 vCPU with every partition busy and 5,209–5,452 with 16
(docs/benchmarks.md), at the same whole-relay latency."""

_RAW_PREFIX: Final = "relay.raw"
_VERIFIED_PREFIX: Final = "relay.verified"

_VERIFIED_KINDS: Final = frozenset({"commit", "sync", "identity", "account"})


class Retention(StrEnum):
    """JetStream retention policies, spelled as the server spells them."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamDef:
    """A JetStream stream as the relay expects it to exist (created/updated by ensure_streams)."""

    name: str
    subjects: tuple[str, ...]
    retention: Retention
    description: str
    owner: str = ""
    """The service whose config sets this stream's limits. Only the owner updates an existing
    stream; every other service creates it if missing and otherwise leaves it alone, so two
    services never fight over its limits."""
    max_age_seconds: float = 0.0
    """0 means no age limit."""
    max_bytes: int = -1
    """-1 means no size limit."""
    discard_new: bool = False
    """When full, refuse new messages (publisher sees an error = backpressure) instead of dropping old."""
    duplicate_window_seconds: float = 120.0
    """Window in which a repeated ``Nats-Msg-Id`` is dropped by the server."""
    file_storage: bool = True

    def __post_init__(self) -> None:
        # The server refuses this (err 10052); failing at import names the definition instead.
        if self.max_age_seconds and self.duplicate_window_seconds > self.max_age_seconds:
            raise ValueError(f"{self.name}: duplicate window must not exceed max age")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerDef:
    """A durable consumer on a stream."""

    stream: str
    durable: str
    filter_subject: str
    description: str
    ack_wait_seconds: float = 30.0
    """Unacked messages are redelivered after this long."""
    max_deliver: int = 10
    """After this many deliveries a message is given up on (counted and logged by the consumer)."""
    max_ack_pending: int = 1000
    """Flow control: at most this many delivered-but-unacked messages per consumer."""


RAW_FRAMES: Final = StreamDef(
    name="RAW_FRAMES",
    subjects=(f"{_RAW_PREFIX}.*",),
    retention=Retention.WORK_QUEUE,
    owner="slurper",
    description=(
        "Upstream frames as received. Publisher: slurper (Nats-Msg-Id = raw_frame_msg_id). "
        "Consumer: validator, one durable per partition. Work-queue: a frame is gone once judged."
    ),
    max_age_seconds=6 * 3600.0,
    max_bytes=8 * 1024**3,
    discard_new=True,
    duplicate_window_seconds=600.0,
)
"""Transit buffer between slurper and validator. Full → publishes fail → slurper slows its reads."""

VERIFIED: Final = StreamDef(
    name="VERIFIED",
    subjects=(f"{_VERIFIED_PREFIX}.*",),
    retention=Retention.LIMITS,
    owner="firehose",
    description=(
        "Events the validator accepted (VerifiedEvent), in relay order; the stream sequence is the "
        "relay seq. Publisher: validator (Nats-Msg-Id = verified_msg_id). Consumers: firehose "
        "replicas (ephemeral, from any cursor), indexer (durable)."
    ),
    max_age_seconds=72 * 3600.0,
    max_bytes=512 * 1024**3,
    duplicate_window_seconds=600.0,
)
"""The verified event log and the firehose replay window (72 h, capped by size; the firehose's
config may set other limits). Limits retention: the window does not depend on who has read it."""

INDEXER: Final = ConsumerDef(
    stream=VERIFIED.name,
    durable="indexer",
    filter_subject=f"{_VERIFIED_PREFIX}.>",
    description="Indexer: repo state, account status, collection index.",
    max_ack_pending=5000,
)


def partition_for_host(host: str, partitions: int) -> int:
    """Stable partition of ``host`` in ``range(partitions)`` (same in every process)."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    digest = hashlib.blake2b(host.lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def raw_subject(partition: int) -> str:
    """Subject for RAW_FRAMES partition ``partition``."""
    return f"{_RAW_PREFIX}.{partition}"


def raw_frame_msg_id(host: str, upstream_seq: int) -> str:
    """``Nats-Msg-Id`` of a raw frame: a replayed frame after reconnect is deduplicated."""
    return f"{host.lower()}:{upstream_seq}"


def verified_subject(kind: str) -> str:
    """Subject for a verified event of ``kind`` (commit, sync, identity, account)."""
    if kind not in _VERIFIED_KINDS:
        raise ValueError(f"unknown verified event kind {kind!r}")
    return f"{_VERIFIED_PREFIX}.{kind}"


def verified_msg_id(host: str, upstream_seq: int) -> str:
    """``Nats-Msg-Id`` of a verified event: a validator redelivery republishes nothing new."""
    return f"{host.lower()}:{upstream_seq}"


def validator_consumer(partition: int) -> ConsumerDef:
    """The durable consumer through which a validator replica owns RAW_FRAMES ``partition``.

    Frames arrive in publish order. A redelivered frame (after a crash or a nak) can arrive after
    later frames of the same host; the validator's rev/seq checks must treat it as a replay.
    """
    return ConsumerDef(
        stream=RAW_FRAMES.name,
        durable=f"validator-p{partition}",
        filter_subject=raw_subject(partition),
        description=f"Validator: owns RAW_FRAMES partition {partition}.",
        max_ack_pending=1000,
    )
