"""The real servicer over real gRPC, resolving against the real loopback PLC directory."""

from __future__ import annotations

import json
import socket

import grpc
import httpx
import pytest
from prometheus_client import REGISTRY
from relay_proto.resolver.v1 import resolver_pb2

from tests.integration.resolver.conftest import PDS_ENDPOINT, ResolverHarness, start_resolver
from tools.netsim.plc_directory import did_document, signing_key_for

pytestmark = pytest.mark.integration

MISSING = "did:plc:" + "a" * 24
BROKEN = "did:plc:" + "b" * 24
HUGE = "did:plc:" + "c" * 24
GONE = "did:plc:" + "d" * 24


def _hits() -> float:
    return REGISTRY.get_sample_value("relay_resolver_cache_lookups_total", {"result": "hit"}) or 0.0


async def _resolve(
    h: ResolverHarness, dids: list[str], *, fresh: bool = False
) -> list[resolver_pb2.Resolution]:
    response = await h.stub.ResolveDids(resolver_pb2.ResolveDidsRequest(dids=dids, fresh=fresh))
    assert [r.did for r in response.resolutions] == dids
    return list(response.resolutions)


async def test_batch_with_good_missing_and_invalid_dids(harness: ResolverHarness) -> None:
    plc = harness.plc
    good = [plc.directory.seeded_did(i) for i in range(3)]
    key_holder = plc.directory.account_info(0)["signing_key"]
    plc.directory.put_raw(BROKEN, b'{"id": "not even close"')
    plc.directory.put_raw(HUGE, json.dumps({"id": HUGE, "pad": "x" * 70_000}).encode())
    plc.directory.register(GONE, handle="gone.test", pds_endpoint=PDS_ENDPOINT, signing_key=key_holder)
    plc.directory.tombstone(GONE)
    port = int(plc.url.rsplit(":", 1)[1])
    web_did = f"did:web:localhost%3A{port}"
    plc.directory.register(web_did, handle="web.test", pds_endpoint=PDS_ENDPOINT, signing_key=key_holder)

    dids = [good[0], MISSING, "not-a-did", BROKEN, good[1], HUGE, GONE, "did:key:zQ3sh", web_did, good[2]]
    out = await _resolve(harness, dids)

    kinds = [r.WhichOneof("result") for r in out]
    assert kinds == [
        "identity",
        "error",
        "error",
        "error",
        "identity",
        "error",
        "error",
        "error",
        "identity",
        "identity",
    ]
    codes = {r.did: r.error.code for r in out if r.HasField("error")}
    assert codes == {
        MISSING: resolver_pb2.RESOLVE_ERROR_CODE_NOT_FOUND,
        "not-a-did": resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID,
        BROKEN: resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DOCUMENT,
        HUGE: resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DOCUMENT,
        GONE: resolver_pb2.RESOLVE_ERROR_CODE_TOMBSTONED,
        "did:key:zQ3sh": resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID,
    }
    first = out[0].identity
    assert first.did == good[0]
    assert first.signing_key == key_holder
    assert first.pds_endpoint == PDS_ENDPOINT
    assert first.handle == "u0.pds0.test"
    assert first.resolved_at_us > 0
    assert out[8].identity.handle == "web.test"


async def test_second_call_hits_cache_and_fresh_bypasses_it(harness: ResolverHarness) -> None:
    plc = harness.plc
    did = plc.directory.seeded_did(1)
    old_key = (await _resolve(harness, [did]))[0].identity.signing_key

    # Rotate the key over the directory's HTTP API, as the network simulator would.
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"{plc.url}/_sim/update/{did}", json={"rotate": True})
    assert reply.status_code == 200
    new_key = signing_key_for("integration", 1, rotations=1).public_key.did_key()
    assert new_key != old_key

    hits_before = _hits()
    assert (await _resolve(harness, [did]))[0].identity.signing_key == old_key
    assert _hits() == hits_before + 1
    assert (await _resolve(harness, [did], fresh=True))[0].identity.signing_key == new_key
    assert (await _resolve(harness, [did]))[0].identity.signing_key == new_key  # fresh refreshed it
    assert _hits() == hits_before + 2


async def test_invalidate_forces_the_next_fetch(harness: ResolverHarness) -> None:
    plc = harness.plc
    did = plc.directory.seeded_did(2)
    await _resolve(harness, [did])
    plc.directory.update(did, handle="renamed.pds0.test")
    assert (await _resolve(harness, [did]))[0].identity.handle == "u2.pds0.test"

    reply = await harness.stub.Invalidate(resolver_pb2.InvalidateRequest(dids=[did, MISSING]))
    assert reply.invalidated == 1
    assert (await _resolve(harness, [did]))[0].identity.handle == "renamed.pds0.test"


async def test_batch_over_the_limit_is_refused(harness: ResolverHarness) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _resolve(harness, [harness.plc.directory.seeded_did(0)] * 51)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_did_web_on_localhost_refused_outside_dev_mode(harness: ResolverHarness) -> None:
    port = int(harness.plc.url.rsplit(":", 1)[1])
    async for stub, _ in start_resolver(harness.plc.url, dev_mode=False):
        response = await stub.ResolveDids(
            resolver_pb2.ResolveDidsRequest(dids=[f"did:web:localhost%3A{port}"])
        )
        assert response.resolutions[0].error.code == resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID


async def test_unreachable_directory_is_reported_per_did() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async for stub, _ in start_resolver(dead_url):
        response = await stub.ResolveDids(resolver_pb2.ResolveDidsRequest(dids=[MISSING]))
        assert response.resolutions[0].error.code == resolver_pb2.RESOLVE_ERROR_CODE_UNREACHABLE


async def test_document_matches_what_the_directory_serves(harness: ResolverHarness) -> None:
    plc = harness.plc
    did = plc.directory.seeded_did(3)
    async with httpx.AsyncClient() as client:
        served = (await client.get(f"{plc.url}/{did}")).json()
    info = plc.directory.account_info(3)
    assert served == did_document(did, info["handle"], info["pds_endpoint"], info["signing_key"])
    assert (await _resolve(harness, [did]))[0].identity.signing_key == info["signing_key"]
