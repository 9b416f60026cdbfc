"""gRPC server bootstrap (health, reflection, tracing/metrics interceptor) and client channels.

Every service's gRPC port looks the same from outside: its own ``relay.<area>.v1`` service, the
standard ``grpc.health.v1.Health`` (``NOT_SERVING`` until the service is ready and again from the
start of shutdown) and server reflection, so ``grpcurl list`` and k3s ``grpc:`` probes just work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from relay_runtime import metrics, tracing

__all__ = ["GrpcServer", "TracingClientInterceptor", "TracingServerInterceptor", "open_channel"]

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

_INFRA_PREFIXES: Final = ("/grpc.health.", "/grpc.reflection.")
_SERVING: Final = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING: Final = health_pb2.HealthCheckResponse.NOT_SERVING


def _status_of(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if exc is not None else "OK"


class TracingServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Continue the caller's trace (from metadata) in a server span and count the call."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(_INFRA_PREFIXES):
            return handler
        parent = tracing.context_from_metadata(handler_call_details.invocation_metadata)
        service = self._service

        if handler.unary_unary is not None and not handler.request_streaming:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started = time.perf_counter()
                error: BaseException | None = None
                with _tracer.start_as_current_span(method, context=parent, kind=trace.SpanKind.SERVER):
                    try:
                        return await inner_unary(request, context)
                    except BaseException as exc:
                        error = exc
                        raise
                    finally:
                        _observe(service, method, _status_of(context, error), started)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                started = time.perf_counter()
                error: BaseException | None = None
                with _tracer.start_as_current_span(method, context=parent, kind=trace.SpanKind.SERVER):
                    try:
                        async for item in inner_stream(request, context):
                            yield item
                    except BaseException as exc:
                        error = exc
                        raise
                    finally:
                        _observe(service, method, _status_of(context, error), started)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Client-streaming methods: none in our contracts yet; served untraced rather than refused.
        return handler


def _observe(service: str, method: str, code: str, started: float) -> None:
    metrics.GRPC_REQUESTS_TOTAL.labels(service, method, code).inc()
    metrics.GRPC_REQUEST_SECONDS.labels(service, method).observe(time.perf_counter() - started)


class TracingClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Add the current trace context to every outgoing call's metadata."""

    @staticmethod
    def _details(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=grpc.aio.Metadata(*tracing.inject_metadata(details.metadata)),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


def open_channel(target: str) -> grpc.aio.Channel:
    """An insecure (loopback / cluster-internal) channel to ``target`` that propagates traces."""
    return grpc.aio.insecure_channel(target, interceptors=[TracingClientInterceptor()])


class GrpcServer:
    """A ``grpc.aio`` server with health and reflection, bound to one port.

    Register service implementations with :meth:`add_service` before :meth:`start`.
    ``interceptors`` run after the tracing one, so a call they refuse is still traced and counted.
    """

    def __init__(
        self,
        *,
        service: str,
        host: str = "127.0.0.1",
        port: int = 0,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self._server = grpc.aio.server(interceptors=[TracingServerInterceptor(service), *interceptors])
        self._address = f"{host}:{port}"
        self._health = health.aio.HealthServicer()
        self._service_names: list[str] = []
        self._names_applied = 0
        self._port: int | None = None
        self._serving = False

    def add_service(
        self, register: Callable[[Any, grpc.aio.Server], None], servicer: object, full_name: str
    ) -> None:
        """Add a generated ``add_XServicer_to_server`` registration and the service's full name.

        Args:
            register: e.g. ``admin_pb2_grpc.add_AdminServiceServicer_to_server``.
            servicer: The implementation.
            full_name: e.g. ``admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name``.
        """
        register(servicer, self._server)
        self._service_names.append(full_name)

    @property
    def service_names(self) -> Sequence[str]:
        return tuple(self._service_names)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("gRPC server not started")
        return self._port

    @property
    def serving(self) -> bool:
        return self._serving

    async def start(self) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        names = [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, self._server)
        self._port = self._server.add_insecure_port(self._address)
        for name in ("", *self._service_names):
            await self._health.set(name, _NOT_SERVING)
        await self._server.start()
        logger.info("grpc listening", extra={"port": self._port, "services": self._service_names})

    async def set_serving(self, serving: bool) -> None:
        """Flip health for the overall server ("") and every registered service."""
        # A service added after the last flip has no status yet: apply to it too.
        if serving == self._serving and len(self._service_names) == self._names_applied:
            return
        self._serving = serving
        names = tuple(self._service_names)
        for name in ("", *names):
            await self._health.set(name, _SERVING if serving else _NOT_SERVING)
        self._names_applied = len(names)

    async def enter_graceful_shutdown(self) -> None:
        """Health goes NOT_SERVING for good; later ``set_serving`` calls are ignored."""
        self._serving = False
        await self._health.enter_graceful_shutdown()

    async def stop(self, grace_seconds: float) -> None:
        await self._server.stop(grace_seconds)
