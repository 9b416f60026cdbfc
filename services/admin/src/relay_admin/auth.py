"""Bearer-token authentication of the operator API: a ``grpc.aio`` server interceptor.

Every method but gRPC health and reflection needs ``authorization: Bearer <token>`` metadata
matching one of the configured tokens (several, so a token can be rotated without downtime).
Health stays open for k3s probes and reflection for ``grpcurl list``/``describe``: neither
reveals or changes relay state. Tokens are compared with :func:`hmac.compare_digest` against
every configured token, without stopping at the first match, so timing tells an attacker
neither how much of a token matched nor which token it was. Tokens never reach a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Final

import grpc

from relay_admin import metrics

__all__ = ["OPEN_METHOD_PREFIXES", "AuthInterceptor", "TokenSet", "bearer_token"]

logger = logging.getLogger(__name__)

OPEN_METHOD_PREFIXES: Final = ("/grpc.health.", "/grpc.reflection.")
"""Methods answered without a token."""
_SCHEME: Final = "bearer"


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of the first ``authorization: Bearer <token>`` entry; None when there is none."""
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() == _SCHEME and token.strip():
            return token.strip()
        return None
    return None


class TokenSet:
    """The accepted tokens, checked in constant time.

    Tokens are kept only as SHA-256 digests: comparing fixed-length digests makes the time of
    ``compare_digest`` independent of the presented token's length too.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(t) for t in tokens if t)
        if not self._digests:
            raise ValueError("a TokenSet needs at least one non-empty token")

    def __len__(self) -> int:
        return len(self._digests)

    def accepts(self, presented: str | None) -> bool:
        """True when ``presented`` equals one of the tokens."""
        candidate = _digest(presented or "")
        matched = False
        for digest in self._digests:
            # `|` not `or`: every token is compared whatever the outcome of the previous ones.
            matched = hmac.compare_digest(candidate, digest) | matched
        return matched and presented is not None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuse calls without a valid bearer token with ``UNAUTHENTICATED``."""

    def __init__(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        presented = bearer_token(handler_call_details.invocation_metadata)
        if self._tokens.accepts(presented):
            return handler
        why = "missing bearer token" if presented is None else "invalid bearer token"
        metrics.AUTH_FAILURES_TOTAL.labels("missing" if presented is None else "invalid").inc()
        logger.warning("refused unauthenticated call", extra={"method": method, "why": why})
        return _refusal(handler, f"{why}: send 'authorization: Bearer <token>' metadata")


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that aborts with UNAUTHENTICATED."""

    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - abort raises; the yield only makes this a generator

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    # Our contracts have no client-streaming methods; every other shape is answered as unary.
    return grpc.unary_unary_rpc_method_handler(
        unary,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
