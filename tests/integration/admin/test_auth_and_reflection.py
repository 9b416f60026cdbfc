"""Every admin RPC refuses callers without a valid token; health and reflection stay open; a
reflection-only client (what grpcurl does) can discover and call the API."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from relay_proto.admin.v1 import admin_pb2

from tests.integration.admin.conftest import OTHER_TOKEN, TOKEN, Relay

pytestmark = pytest.mark.integration

SERVICE = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]


def _invoke(
    channel: grpc.aio.Channel, method: object, metadata: tuple[tuple[str, str], ...] | None
) -> object:
    """Call ``method`` (a MethodDescriptor) with an empty request, unary or server-streaming."""
    path = f"/{SERVICE.full_name}/{method.name}"  # type: ignore[attr-defined]
    request_cls = message_factory.GetMessageClass(method.input_type)  # type: ignore[attr-defined]
    response_cls = message_factory.GetMessageClass(method.output_type)  # type: ignore[attr-defined]
    kwargs = {
        "request_serializer": request_cls.SerializeToString,
        "response_deserializer": response_cls.FromString,
    }
    if method.server_streaming:  # type: ignore[attr-defined]
        return channel.unary_stream(path, **kwargs)(request_cls(), metadata=metadata, timeout=10)
    return channel.unary_unary(path, **kwargs)(request_cls(), metadata=metadata, timeout=10)


async def _code(call: object) -> grpc.StatusCode:
    try:
        if isinstance(call, grpc.aio.UnaryStreamCall):
            async for _ in call:
                pass
        else:
            await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        (("authorization", "Bearer wrong-token-0123456789"),),
        (("authorization", f"Basic {TOKEN}"),),
        (("authorization", f"Bearer {TOKEN}x"),),
    ],
    ids=["missing", "wrong", "wrong-scheme", "prefix"],
)
async def test_every_method_refuses_a_bad_or_missing_token(
    relay: Relay, metadata: tuple[tuple[str, str], ...] | None
) -> None:
    for method in SERVICE.methods:
        code = await _code(_invoke(relay.channel, method, metadata))
        assert code is grpc.StatusCode.UNAUTHENTICATED, method.name


async def test_the_message_says_what_is_wrong_without_echoing_the_token(relay: Relay) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await relay.admin.ListDomainBans(admin_pb2.ListDomainBansRequest())
    assert "missing bearer token" in (missing.value.details() or "")
    bad = (("authorization", "Bearer guessed-secret-value-123"),)
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await relay.admin.ListDomainBans(admin_pb2.ListDomainBansRequest(), metadata=bad)
    assert "invalid bearer token" in (invalid.value.details() or "")
    assert "guessed-secret" not in (invalid.value.details() or "")


@pytest.mark.parametrize("token", [TOKEN, OTHER_TOKEN])
async def test_each_configured_token_is_accepted(relay: Relay, token: str) -> None:
    reply = await relay.admin.ListDomainBans(
        admin_pb2.ListDomainBansRequest(), metadata=(("authorization", f"Bearer {token}"),)
    )
    assert list(reply.bans) == []


async def test_health_and_reflection_need_no_token(relay: Relay) -> None:
    health = health_pb2_grpc.HealthStub(relay.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE.full_name))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    names = await _list_services(relay.channel)
    assert SERVICE.full_name in names


async def _reflect(
    channel: grpc.aio.Channel, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(iter([request]))
    async for response in call:
        return response
    raise AssertionError("no reflection answer")


async def _list_services(channel: grpc.aio.Channel) -> list[str]:
    reply = await _reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    return [s.name for s in reply.list_services_response.service]


async def test_a_reflection_only_client_can_call_the_api_like_grpcurl(relay: Relay) -> None:
    """List services, fetch the file descriptors, build request classes from them alone (no
    generated code), and invoke GetCrawlPolicy and SetCrawlPolicy with the token."""
    assert set(await _list_services(relay.channel)) >= {
        "relay.admin.v1.AdminService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    reply = await _reflect(
        relay.channel,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="relay.admin.v1.AdminService"),
    )
    pool = descriptor_pool.DescriptorPool()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in reply.file_descriptor_response.file_descriptor_proto
    ]
    pending = {f.name: f for f in files}
    # Dependencies first (the server sends the file and its transitive imports).
    while pending:
        for name, proto in list(pending.items()):
            if all(dep not in pending for dep in proto.dependency):
                pool.Add(proto)
                del pending[name]
    service = pool.FindServiceByName("relay.admin.v1.AdminService")
    assert {"TakedownAccount", "WatchBackfillProgress", "ListHosts"} <= {m.name for m in service.methods}

    set_method = service.methods_by_name["SetCrawlPolicy"]
    request_cls = message_factory.GetMessageClass(set_method.input_type)
    response_cls = message_factory.GetMessageClass(set_method.output_type)
    request: Any = request_cls()
    request.policy.public_request_crawl = True
    request.policy.new_hosts_per_day = 42
    call = relay.channel.unary_unary(
        f"/{service.full_name}/{set_method.name}",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    answer: Any = await call(request, metadata=relay.metadata, timeout=10)
    assert answer.policy.new_hosts_per_day == 42 and answer.policy.public_request_crawl
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(request, timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
