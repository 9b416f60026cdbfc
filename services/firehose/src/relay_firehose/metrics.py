"""Prometheus metrics of the firehose (registered on the process-wide registry).

Declared here, in one place, so names and label sets are reviewed together; label values come
only from bounded sets (the literals in the help texts). gRPC call counts and readiness come from
relay_runtime.metrics for every service.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = [
    "CONSUMERS",
    "DISCONNECTS_TOTAL",
    "EVENTS_DROPPED_TOTAL",
    "EVENTS_HIDDEN_TOTAL",
    "EVENTS_SEQUENCED_TOTAL",
    "HANDSHAKES_TOTAL",
    "HEAD_SEQ",
    "SENT_BYTES_TOTAL",
]

EVENTS_SEQUENCED_TOTAL: Final = Counter(
    "relay_firehose_events_sequenced_total",
    "Verified events read by the live tail, resequenced to their stream seq and framed once.",
    [],
)

EVENTS_DROPPED_TOTAL: Final = Counter(
    "relay_firehose_events_dropped_total",
    "VERIFIED messages that could not be served, by reason "
    "(bad_payload, bad_frame_cbor, bad_event_field, bad_frame).",
    ["reason"],
)

EVENTS_HIDDEN_TOTAL: Final = Counter(
    "relay_firehose_events_hidden_total",
    "Live events not served because their account is taken down.",
    [],
)

CONSUMERS: Final = Gauge(
    "relay_firehose_consumers", "Connected subscribeRepos consumers, by state (live, catching_up).", ["state"]
)

HANDSHAKES_TOTAL: Final = Counter(
    "relay_firehose_handshakes_total",
    "subscribeRepos HTTP requests by outcome (upgraded, http_400, http_404, http_405, http_426, http_431).",
    ["outcome"],
)

DISCONNECTS_TOTAL: Final = Counter(
    "relay_firehose_disconnects_total",
    "Consumers closed by reason (consumer_too_slow, future_cursor, dead_peer, protocol_error, "
    "client_closed, shutdown, server_error).",
    ["reason"],
)

SENT_BYTES_TOTAL: Final = Counter(
    "relay_firehose_sent_bytes_total", "Frame bytes handed to consumer sockets.", []
)

HEAD_SEQ: Final = Gauge("relay_firehose_head_seq", "Newest seq this replica's live tail has read.", [])
