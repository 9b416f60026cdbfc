"""A real gRPC server with health + reflection, queried through real channels, and ops HTTP."""

from __future__ import annotations

import asyncio
import gc
import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from relay_proto.admin.v1 import admin_pb2, admin_pb2_grpc
from relay_proto.validator.v1 import validator_pb2, validator_pb2_grpc
from relay_runtime.config import RuntimeConfig
from relay_runtime.grpc_server import GrpcServer
from relay_runtime.readiness import CheckResult
from relay_runtime.service import ServiceRuntime
from relay_runtime.unimplemented import unimplemented_servicer

pytestmark = pytest.mark.integration

# Servicers made only of placeholders, so these tests exercise the runtime, not any service.
_VALIDATOR = validator_pb2.DESCRIPTOR.services_by_name["ValidatorService"]
_ValidatorPlaceholder = unimplemented_servicer(validator_pb2_grpc.ValidatorServiceServicer, _VALIDATOR, 4)
_ADMIN = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
_AdminPlaceholder = unimplemented_servicer(admin_pb2_grpc.AdminServiceServicer, _ADMIN, 7)


async def list_services(channel: grpc.aio.Channel) -> list[str]:
    """What `grpcurl list` does: ask the reflection service for its service names."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names: list[str] = []
    async for response in call:
        names.extend(s.name for s in response.list_services_response.service)
    return names


async def describe_file(channel: grpc.aio.Channel, symbol: str) -> bytes:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
    call = stub.ServerReflectionInfo(iter([request]))
    async for response in call:
        return bytes(response.file_descriptor_response.file_descriptor_proto[0])
    raise AssertionError("no reflection response")


async def health_status(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(response.status)


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_reflection_lists_services_and_health_follows_serving(
    grpc_server_factory, grpc_channel_factory
) -> None:
    server = await grpc_server_factory(
        validator_pb2_grpc.add_ValidatorServiceServicer_to_server,
        _ValidatorPlaceholder(),
        _VALIDATOR.full_name,
        serving=False,
    )
    channel = grpc_channel_factory(server.port)
    assert sorted(await list_services(channel)) == [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "relay.validator.v1.ValidatorService",
    ]
    assert b"relay.validator.v1" in await describe_file(channel, "relay.validator.v1.ValidatorService")
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    assert await health_status(channel) == not_serving
    await server.set_serving(True)
    assert await health_status(channel, _VALIDATOR.full_name) == health_pb2.HealthCheckResponse.SERVING
    await server.enter_graceful_shutdown()
    assert await health_status(channel) == not_serving
    await server.set_serving(True)  # ignored after graceful shutdown began
    assert await health_status(channel, _VALIDATOR.full_name) == not_serving


async def test_a_service_added_after_serving_began_gets_a_status(grpc_channel_factory) -> None:
    # Services wire their servicer after the runtime's readiness watcher may already have flipped
    # health to SERVING; the next flip must cover the late service too.
    server = GrpcServer(service="test", port=0)
    await server.set_serving(True)
    server.add_service(
        validator_pb2_grpc.add_ValidatorServiceServicer_to_server,
        _ValidatorPlaceholder(),
        _VALIDATOR.full_name,
    )
    await server.start()
    try:
        await server.set_serving(True)
        channel = grpc_channel_factory(server.port)
        assert await health_status(channel, _VALIDATOR.full_name) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


async def test_unbuilt_rpcs_answer_unimplemented_naming_the_issue(
    grpc_server_factory, grpc_channel_factory
) -> None:
    server = await grpc_server_factory(
        admin_pb2_grpc.add_AdminServiceServicer_to_server, _AdminPlaceholder(), _ADMIN.full_name
    )
    stub = admin_pb2_grpc.AdminServiceStub(grpc_channel_factory(server.port))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListHosts(admin_pb2.ListHostsRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "issue #7" in (info.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.WatchBackfillProgress(admin_pb2.WatchBackfillProgressRequest(), timeout=5):
            pass
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "WatchBackfillProgress" in (info.value.details() or "")


class _Stats(_ValidatorPlaceholder):  # type: ignore[misc,valid-type]
    """A servicer defining one method, to check trace context crosses the call."""

    def __init__(self) -> None:
        self.seen_trace_ids: list[int] = []

    async def GetStats(self, request, context):
        from opentelemetry import trace

        self.seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        return validator_pb2.GetStatsResponse(queue_depth=3)


async def test_trace_context_crosses_grpc(grpc_server_factory, grpc_channel_factory) -> None:
    from opentelemetry import trace
    from relay_runtime.tracing import configure_tracing

    configure_tracing("test")
    api = _Stats()
    server = await grpc_server_factory(
        validator_pb2_grpc.add_ValidatorServiceServicer_to_server, api, _VALIDATOR.full_name
    )
    stub = validator_pb2_grpc.ValidatorServiceStub(grpc_channel_factory(server.port))
    with trace.get_tracer("test").start_as_current_span("client") as span:
        response = await stub.GetStats(validator_pb2.GetStatsRequest(), timeout=5)
        want = span.get_span_context().trace_id
    assert response.queue_depth == 3
    assert api.seen_trace_ids == [want]


async def test_service_runtime_serves_ops_and_grpc_then_shuts_down_in_order(grpc_channel_factory) -> None:
    config = RuntimeConfig(service="validator", grpc_port=0, ops_port=0, shutdown_grace_seconds=1)
    order: list[str] = []
    async with ServiceRuntime(config, handle_signals=False) as runtime:
        runtime.readiness.not_implemented(4)
        runtime.grpc.add_service(
            validator_pb2_grpc.add_ValidatorServiceServicer_to_server,
            _ValidatorPlaceholder(),
            _VALIDATOR.full_name,
        )

        async def worker() -> None:
            await runtime.stopping.wait()
            order.append("drained")

        async def flush() -> None:
            order.append("flushed")

        runtime.on_shutdown(flush)
        # Before serve(), the ops port is up but the service is not: never ready.
        status, body = await http_get(runtime.ops.port, "/readyz")
        assert status == 503 and json.loads(body)["checks"]["started"]["ok"] is False
        assert gc.get_freeze_count() == 0
        serving = asyncio.create_task(runtime.serve(worker()))
        await asyncio.wait_for(runtime.started.wait(), 5)
        # What exists at startup is out of the full collections' scans while serving.
        assert gc.get_freeze_count() > 0
        ops = runtime.ops.port
        assert await http_get(ops, "/healthz") == (200, b'{"alive":true}\n')
        status, body = await http_get(ops, "/readyz")
        assert status == 503
        assert json.loads(body)["reason"] == "not implemented yet: issue #4"
        status, body = await http_get(ops, "/metrics")
        assert status == 200 and b'relay_service_ready{service="validator"} 0.0' in body
        assert (await http_get(ops, "/nope"))[0] == 404
        channel = grpc_channel_factory(runtime.grpc.port)
        assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert "relay.validator.v1.ValidatorService" in await list_services(channel)

        # Once the only failing check passes, the watcher flips gRPC health to SERVING.
        runtime.readiness.add("implemented", lambda: CheckResult(True))
        for _ in range(40):
            if runtime.grpc.serving:
                break
            await asyncio.sleep(0.05)
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        assert (await http_get(ops, "/readyz"))[0] == 200

        runtime.request_stop()
        await asyncio.wait_for(serving, 5)
        assert order == ["drained", "flushed"]
        assert gc.get_freeze_count() == 0
        assert (await http_get(ops, "/readyz"))[0] == 503
