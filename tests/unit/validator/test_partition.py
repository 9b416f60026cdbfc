"""How a partition loop tells a redelivered frame from its ack subject (no server needed)."""

from __future__ import annotations

from nats.aio.msg import Msg
from relay_validator.partition import _delivery


def _msg(reply: str) -> Msg:
    return Msg(_client=None, subject="relay.raw.1", reply=reply, data=b"")  # type: ignore[arg-type]


def test_redelivered_matches_nats_metadata() -> None:
    replies = [
        "$JS.ACK.RAW_FRAMES.validator-p1.1.12.12.1700000000000000000.3",
        "$JS.ACK.RAW_FRAMES.validator-p1.2.12.13.1700000000000000000.0",
        "$JS.ACK.RAW_FRAMES.validator-p1.17.5.99.1700000000000000000.0",
        # v2 form (domain and account hash): falls back to nats' own parser.
        "$JS.ACK._.ACCHASH.RAW_FRAMES.validator-p1.1.12.12.1700000000000000000.3.tok",
        "$JS.ACK._.ACCHASH.RAW_FRAMES.validator-p1.3.12.12.1700000000000000000.3.tok",
    ]
    for reply in replies:
        msg = _msg(reply)
        meta = msg.metadata
        assert meta.timestamp is not None
        assert _delivery(msg) == ((meta.num_delivered or 1) > 1, int(meta.timestamp.timestamp() * 1e9)), reply
