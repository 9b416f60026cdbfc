"""Honest placeholders for RPCs whose behaviour a later issue builds.

A servicer deriving from :func:`unimplemented_servicer` answers every RPC it does not define
itself with ``UNIMPLEMENTED`` and a message naming the issue, instead of the generated base
class's anonymous "Method not implemented!". Methods are then implemented one by one by
simply defining them on the subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import ServiceDescriptor

__all__ = ["unimplemented_servicer"]


def _unary(message: str) -> Callable[..., Any]:
    async def rpc(self: object, request: object, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        raise AssertionError("abort returned")  # abort always raises; this keeps NoReturn honest

    return rpc


def _server_streaming(message: str) -> Callable[..., Any]:
    async def rpc(
        self: object, request: object, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        yield  # pragma: no cover  (makes this an async generator, as server-streaming needs)

    return rpc


def unimplemented_servicer(base: type, service: ServiceDescriptor, issue: int) -> type[Any]:
    """A servicer base class whose every RPC aborts ``UNIMPLEMENTED`` naming ``issue``.

    Subclass it and define methods as they get built; the rest keep answering honestly.
    Typed as ``type[Any]`` so the abstract methods of mypy-protobuf's stub do not make the
    subclass "abstract" to the type checker: the placeholders are real methods at runtime.

    Args:
        base: The generated ``XServiceServicer`` class.
        service: Its descriptor (``x_pb2.DESCRIPTOR.services_by_name["XService"]``).
        issue: The issue number that will build the behaviour.
    """
    namespace: dict[str, Any] = {"__doc__": f"{service.full_name} placeholders (issue #{issue})."}
    for method in service.methods:
        if method.client_streaming:
            raise TypeError(f"{method.full_name}: client-streaming placeholders are not supported")
        message = f"{service.full_name}/{method.name} is not implemented yet: issue #{issue}"
        rpc = (_server_streaming if method.server_streaming else _unary)(message)
        rpc.__name__ = method.name
        namespace[method.name] = rpc
    return type(f"Unimplemented{service.name}", (base,), namespace)
