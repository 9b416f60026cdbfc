from __future__ import annotations

from collections import Counter

import pytest
from relay_runtime import streams


def test_partition_is_stable_and_in_range() -> None:
    # Fixed expectations: the partition must not change across processes or Python versions.
    assert streams.partition_for_host("pds.example.com", 8) == 0
    assert streams.partition_for_host("bsky.network", 64) == 63
    assert streams.partition_for_host("PDS.Example.com", 8) == 0
    values = {streams.partition_for_host(f"pds{i}.example.com", 8) for i in range(200)}
    assert values == set(range(8))


def test_partition_spreads_hosts_roughly_evenly() -> None:
    counts = Counter(streams.partition_for_host(f"host-{i}.example", 16) for i in range(16_000))
    assert min(counts.values()) > 800 and max(counts.values()) < 1200


def test_partition_rejects_zero() -> None:
    with pytest.raises(ValueError, match="partitions"):
        streams.partition_for_host("a", 0)


def test_subjects_match_their_streams() -> None:
    assert streams.raw_subject(3) == "relay.raw.3"
    assert streams.RAW_FRAMES.subjects == ("relay.raw.*",)
    assert streams.verified_subject("commit") == "relay.verified.commit"
    with pytest.raises(ValueError):
        streams.verified_subject("handle")
    assert streams.validator_consumer(5).filter_subject == streams.raw_subject(5)
    assert streams.validator_consumer(5).stream == streams.RAW_FRAMES.name
    assert streams.INDEXER.stream == streams.VERIFIED.name


def test_verified_is_the_replay_log() -> None:
    # The stream seq is the relay seq (decision 0003): the window must not depend on readers.
    assert streams.VERIFIED.retention is streams.Retention.LIMITS
    assert streams.VERIFIED.max_age_seconds == 72 * 3600


def test_msg_ids_dedupe_by_host_and_seq() -> None:
    assert streams.raw_frame_msg_id("PDS.example.com", 42) == "pds.example.com:42"
    assert streams.raw_frame_msg_id("a", 1) != streams.raw_frame_msg_id("a", 2)


def test_every_stream_documents_who_publishes_and_consumes() -> None:
    for stream in (streams.RAW_FRAMES, streams.VERIFIED):
        assert "Publisher" in stream.description
        assert "onsumer" in stream.description


def test_stream_def_refuses_duplicate_window_longer_than_max_age() -> None:
    with pytest.raises(ValueError, match="duplicate window"):
        streams.StreamDef(
            name="X", subjects=("x",), retention=streams.Retention.LIMITS, description="", max_age_seconds=10
        )
