"""Reply subjects under one wildcard inbox subscription, for JetStream publishes whose acks a
service settles itself (the slurper per frame, the validator per batch).

nats-py's ``publish_async`` draws OS random bytes per reply token and keeps a future per publish;
here tokens are a counter under a per-process random inbox (they never repeat within the inbox's
life) and every answer goes to one callback with its token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["ReplyInbox"]


class ReplyInbox:
    """Hands each message published to one of its reply subjects to ``on_reply(token, msg)``.

    Subscribes on first use; ``on_reply`` runs in the NATS client's delivery task.
    """

    def __init__(self, nc: NatsClient, on_reply: Callable[[str, Msg], Awaitable[None]]) -> None:
        self._nc = nc
        self._on_reply = on_reply
        self._prefix = ""
        self._next = 0
        self._subscription: Subscription | None = None
        self._subscribing: asyncio.Lock | None = None

    async def next_reply(self) -> tuple[str, str]:
        """A fresh (reply subject, token)."""
        if self._subscription is None:
            await self._subscribe()
        self._next += 1
        token = str(self._next)
        return self._prefix + token, token

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _subscribe(self) -> None:
        if self._subscribing is None:
            self._subscribing = asyncio.Lock()
        async with self._subscribing:
            if self._subscription is not None:
                return
            prefix = self._nc.new_inbox() + "."
            self._subscription = await self._nc.subscribe(prefix + "*", cb=self._deliver)
            self._prefix = prefix

    async def _deliver(self, msg: Msg) -> None:
        await self._on_reply(msg.subject[len(self._prefix) :], msg)
