"""`KeyHistory` over real gRPC, from the loopback PLC directory's real `/log/audit` endpoint."""

from __future__ import annotations

import grpc
import pytest
from relay_proto.resolver.v1 import resolver_pb2

from tests.integration.resolver.conftest import PDS_ENDPOINT, ResolverHarness
from tools.netsim.plc_directory import signing_key_for

pytestmark = pytest.mark.integration

MISSING = "did:plc:" + "a" * 24
GARBLED = "did:plc:" + "e" * 24


async def _history(h: ResolverHarness, dids: list[str]) -> list[resolver_pb2.KeyHistory]:
    response = await h.stub.KeyHistory(resolver_pb2.KeyHistoryRequest(dids=dids))
    assert [r.did for r in response.histories] == dids
    return list(response.histories)


async def test_rotations_appear_as_periods_oldest_first(harness: ResolverHarness) -> None:
    directory = harness.plc.directory
    did = directory.seeded_did(1)
    directory.update(did, rotate=True)
    directory.update(did, handle="renamed.test")
    directory.update(did, rotate=True)

    (history,) = await _history(harness, [did])

    periods = list(history.periods.periods)
    keys = [p.signing_key for p in periods]
    expected = [signing_key_for(directory.seed, 1, k).public_key.did_key() for k in (0, 1, 1, 2)]
    assert keys == expected
    assert all(a.valid_until_us == b.valid_from_us for a, b in zip(periods, periods[1:], strict=False))
    assert periods[-1].valid_until_us == 0
    assert periods[0].valid_from_us <= periods[-1].valid_from_us


async def test_failures_are_per_did(harness: ResolverHarness) -> None:
    directory = harness.plc.directory
    port = int(harness.plc.url.rsplit(":", 1)[1])
    web_did = f"did:web:localhost%3A{port}"
    key = directory.account_info(0)["signing_key"]
    directory.register(web_did, handle="web.test", pds_endpoint=PDS_ENDPOINT, signing_key=key)
    directory.put_raw(GARBLED, b"{}")
    good = directory.seeded_did(0)

    out = await _history(harness, [MISSING, web_did, "nope", good, GARBLED])

    assert [r.WhichOneof("result") for r in out] == ["error", "error", "error", "periods", "error"]
    assert out[0].error.code == resolver_pb2.RESOLVE_ERROR_CODE_NOT_FOUND
    assert out[1].error.code == resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID
    assert out[2].error.code == resolver_pb2.RESOLVE_ERROR_CODE_INVALID_DID
    assert [p.signing_key for p in out[3].periods.periods] == [key]
    # A DID served as a raw document has no log here: the directory answers 404.
    assert out[4].error.code == resolver_pb2.RESOLVE_ERROR_CODE_NOT_FOUND


async def test_oversized_batch_is_refused(harness: ResolverHarness) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await harness.stub.KeyHistory(resolver_pb2.KeyHistoryRequest(dids=[MISSING] * 51))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
