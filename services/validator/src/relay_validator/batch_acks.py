"""Acked JetStream publishes of a whole batch, with the acks counted rather than parsed.

A JetStream publish is a core publish whose reply subject receives the stream's answer: a
`PubAck` JSON object, an `{"error": ...}` object, or an empty status-503 message when no stream
takes the subject. The validator only needs to know that every event of a batch was stored, so
the whole batch shares one reply subject under one inbox subscription and a counter settles it:
no future, random token, semaphore or JSON parse per event as in nats-py's `publish_async`
(an answer is parsed only when it is not a plain ack).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError
from relay_runtime.reply_inbox import ReplyInbox

__all__ = ["BatchAcks", "Message"]

_ERROR_MARK: Final = b'"error"'

Message = tuple[str, bytes, dict[str, str]]
"""(subject, payload, headers)."""


@dataclass(slots=True)
class _Batch:
    remaining: int
    done: asyncio.Future[None]


class BatchAcks:
    """Publishes batches into JetStream and waits until every message is stored.

    Args:
        nc: the NATS connection (its JetStream context publishes the same way).
    """

    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._inbox = ReplyInbox(nc, self._answer)
        self._batches: dict[str, _Batch] = {}

    async def publish(self, messages: Sequence[Message], timeout_seconds: float) -> None:
        """Publish `messages` in order and wait for all their acks.

        Raises:
            TimeoutError: not every ack came within `timeout_seconds` (retry: msg ids dedupe).
            APIError, NoStreamResponseError: the stream refused one (the first refusal).
            nats errors: the client could not send.
        """
        if not messages:
            return
        reply, token = await self._inbox.next_reply()
        batch = _Batch(len(messages), asyncio.get_running_loop().create_future())
        self._batches[token] = batch
        publish = self._nc.publish
        try:
            for subject, payload, headers in messages:
                await publish(subject, payload, reply=reply, headers=headers)
            # Not `wait_for`: it wraps the future in one more and cost ~3% of the validator's CPU.
            async with asyncio.timeout(timeout_seconds):
                await batch.done
        finally:
            del self._batches[token]

    async def close(self) -> None:
        await self._inbox.close()

    async def _answer(self, token: str, msg: Msg) -> None:
        batch = self._batches.get(token)
        if batch is None or batch.done.done():
            return  # a batch that timed out, or already failed
        data = msg.data
        if not data or _ERROR_MARK in data:
            error = _refusal(msg)
            if error is not None:
                batch.done.set_exception(error)
                return
        batch.remaining -= 1
        if batch.remaining == 0:
            batch.done.set_result(None)


def _refusal(msg: Msg) -> Exception | None:
    """The error a non-ack answer stands for (None when it is an ack after all)."""
    if not msg.data:
        # Empty answers are status messages: 503 is "no stream takes this subject".
        return NoStreamResponseError() if (msg.headers or {}).get("Status") == "503" else APIError()
    try:
        answer = json.loads(msg.data)
    except ValueError as exc:
        return exc
    if isinstance(answer, dict) and "error" in answer:
        try:
            APIError.from_error(answer["error"])  # NOTE: raises the error (a subclass by code)
        except APIError as refusal:
            return refusal
    return None
