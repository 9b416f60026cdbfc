"""JetStream publish acks through one inbox subscription: the part of nats-py's ``publish_async``
the slurper needs, at about two thirds of its CPU per message.

A JetStream publish is a core NATS publish whose reply subject receives the stream's answer: a
``PubAck`` JSON object, an ``{"error": ...}`` object, or a status-only ``503`` message when no
stream listens on the subject. nats-py's ``publish_async`` does this too, but per message it also
draws random bytes from the OS for the reply token, awaits its own semaphore through
``asyncio.wait_for`` and registers an extra done-callback; measured with a real nats-server,
61-70 µs CPU per acked publish against 40-51 µs here (``bench/bench_slurper.py`` for the whole
hot path). The reply subjects come from `relay_runtime.reply_inbox`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import APIError, NoStreamResponseError
from relay_runtime.reply_inbox import ReplyInbox

__all__ = ["AckInbox", "AckTimeout", "Answer", "OnAnswer"]

_STATUS_HEADER: Final = "Status"
_NO_RESPONDERS: Final = "503"

Answer = api.PubAck | Exception
"""The stream's ack, or why the publish failed (`AckTimeout`, `APIError`, ...)."""
OnAnswer = Callable[[Answer], None]


class AckTimeout(Exception):
    """No answer within the publisher's ack timeout."""


class AckInbox:
    """Reply subjects for JetStream publishes, and the callbacks their answers are handed to.

    Each callback is called exactly once, with the answer or with the exception given to
    :meth:`fail`, unless :meth:`forget` drops it first. Callbacks run synchronously in the NATS
    client's delivery task: a future per publish would cost one more event-loop turn per frame.
    """

    def __init__(self, nc: NatsClient) -> None:
        self._inbox = ReplyInbox(nc, self._answer)
        self._pending: dict[str, OnAnswer] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def expect(self, on_answer: OnAnswer) -> tuple[str, str]:
        """A fresh reply subject and its token (for :meth:`fail`/:meth:`forget`); the answer
        published to that subject goes to ``on_answer``. Subscribes on first use."""
        subject, token = await self._inbox.next_reply()
        self._pending[token] = on_answer
        return subject, token

    def waiting(self, token: str) -> bool:
        return token in self._pending

    def fail(self, token: str, exc: Exception) -> None:
        """Settle a publish that is still waiting with ``exc`` (e.g. `AckTimeout`)."""
        on_answer = self._pending.pop(token, None)
        if on_answer is not None:
            on_answer(exc)

    def forget(self, token: str) -> None:
        """Stop waiting without settling (the publish never left)."""
        self._pending.pop(token, None)

    async def _answer(self, token: str, msg: Msg) -> None:
        on_answer = self._pending.pop(token, None)
        if on_answer is not None:
            on_answer(_read_answer(msg))

    async def close(self) -> None:
        """Unsubscribe; publishes still waiting are left to the caller's timeout."""
        await self._inbox.close()


def _read_answer(msg: Msg) -> Answer:
    headers = msg.headers
    if headers and headers.get(_STATUS_HEADER) == _NO_RESPONDERS:
        return NoStreamResponseError()
    try:
        answer = json.loads(msg.data)
        if "error" in answer:
            error: Exception = APIError.from_error(answer["error"])
            return error
        # The fields the relay reads, without nats-py's per-call dataclass field scan (~2 µs).
        return api.PubAck(
            stream=answer["stream"],
            seq=answer["seq"],
            domain=answer.get("domain"),
            duplicate=answer.get("duplicate"),
        )
    except Exception as exc:  # a reply that is not a JetStream answer fails the publish
        return exc
