"""A real HTTP PLC directory for loopback tests, benchmarks and the network simulator.

It serves DID documents the way `plc.directory` does (`GET /<did>` → 200 with the document,
404 for an unknown DID, 410 for a tombstoned one) for a population of deterministic accounts,
and it lets a test or the simulator change identities at run time so key rotations and handle
changes are real HTTP-visible events.

Deterministic accounts: account `i` of seed `S` has

- signing key: secp256k1 secret `sha256("S/i/signing/0")` (re-hashed until in range);
  after `k` rotations, `.../signing/k` (see `signing_key_for`);
- rotation key: the same with `rotation`;
- handle `u<i>.pds<h>.test` and PDS endpoint `pds_endpoints[h]`, with `h = i % len(pds_endpoints)`;
- DID: the real did:plc derivation, `did:plc:` + the first 24 chars of base32(sha256(DAG-CBOR of
  the signed genesis operation)), so a DID and its keys can be recomputed anywhere from the seed
  (`derive_account`) without asking this server.

HTTP API (JSON bodies; the `/_sim` routes trust the caller, as only loopback clients reach them):

- `GET /<did>` – the DID document (`application/did+ld+json`).
- `GET /<did>/log/audit` – the DID's operation log in plc.directory's shape (`did`, `operation`,
  `cid`, `nullified`, `createdAt`), one entry per state the directory has served, oldest first.
  The operations carry the state (keys, handle, PDS) but no real signatures (`"sig": ""`): a relay
  trusts its configured directory and does not check them.
- `GET /_health` – `{"accounts": N}`.
- `GET /_sim/accounts/<i>` – `{"did", "handle", "pds_endpoint", "signing_key"}` of account `i`.
- `GET /_sim/dids?offset=0&limit=1000` – `{"dids": [...]}`, seeded DIDs in account order.
- `POST /_sim/register` – `{"did", "handle", "pds_endpoint", "signing_key": "did:key:..."}` adds
  or replaces a DID (any did:plc/did:web string).
- `POST /_sim/update/<did>` – any of `handle`, `pds_endpoint`, `signing_key` (a did:key), or
  `"rotate": true` to move a seeded account to its next deterministic signing key.
- `POST /_sim/tombstone/<did>` – later `GET`s answer 410.
- `PUT /_sim/raw/<did>` – serve the request body verbatim (for invalid or oversized documents).
- `GET /.well-known/did.json` – the document of `did:web:<Host header>` (`:` escaped as `%3A`),
  so a DID registered as `did:web:localhost%3A<port>` makes this server its did:web host too.

Run it: `python -m tools.netsim.plc_directory --port 2582 --accounts 1000 --seed dev
--pds http://localhost:2583`. It prints one JSON line `{"event": "ready", "url": ...}` on stdout
once it accepts connections (`--port 0` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from relay_core.builders import iso_at
from relay_core.cbor import encode_dag_cbor
from relay_core.cid import Cid
from relay_core.errors import InvalidKey
from relay_core.keys import CURVE_ORDERS, Curve, PrivateKey, PublicKey, parse_did_key
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "PlcDirectory",
    "SimAccount",
    "create_app",
    "derive_account",
    "did_document",
    "genesis_did",
    "running_plc_directory",
    "signing_key_for",
]

DEFAULT_PDS_ENDPOINT = "http://localhost:2583"
_DID_JSON = "application/did+ld+json"
_CONTEXT = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/suites/secp256k1-2019/v1",
]


@dataclass(frozen=True, slots=True)
class SimAccount:
    """One deterministic account, with its private keys (for signing simulated commits)."""

    index: int
    did: str
    handle: str
    pds_endpoint: str
    signing_key: PrivateKey
    rotation_key: PrivateKey


@dataclass(frozen=True, slots=True)
class _Record:
    """What the directory currently serves for one DID."""

    handle: str | None
    pds_endpoint: str | None
    signing_key: str
    """did:key of the #atproto verification method."""
    index: int | None = None
    """Seeded account number, if any (lets `rotate` derive the next key)."""
    rotations: int = 0
    tombstoned: bool = False
    raw: bytes | None = None
    """When set, served verbatim instead of a generated document."""
    since_us: int = 0
    """When the directory started serving this state (the audit log's `createdAt`)."""


def _secret(seed: str, index: int, role: str, generation: int) -> bytes:
    material = f"{seed}/{index}/{role}/{generation}".encode()
    while True:
        material = hashlib.sha256(material).digest()
        if 0 < int.from_bytes(material, "big") < CURVE_ORDERS[Curve.K256]:
            return material


def signing_key_for(seed: str, index: int, rotations: int = 0) -> PrivateKey:
    """The signing key account `index` has after `rotations` key rotations."""
    return PrivateKey.from_bytes(Curve.K256, _secret(seed, index, "signing", rotations))


def genesis_did(signed_operation: dict[str, Any]) -> str:
    """did:plc derivation: base32(sha256(DAG-CBOR(signed genesis op))), first 24 chars."""
    digest = hashlib.sha256(encode_dag_cbor(signed_operation)).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def _genesis_operation(
    rotation_key: PrivateKey, signing_key: PublicKey, handle: str, pds_endpoint: str
) -> dict[str, Any]:
    unsigned: dict[str, Any] = {
        "type": "plc_operation",
        "rotationKeys": [rotation_key.public_key.did_key()],
        "verificationMethods": {"atproto": signing_key.did_key()},
        "alsoKnownAs": [f"at://{handle}"],
        "services": {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": pds_endpoint}},
        "prev": None,
    }
    sig = rotation_key.sign(encode_dag_cbor(unsigned))
    return {**unsigned, "sig": base64.urlsafe_b64encode(sig).decode().rstrip("=")}


def derive_account(seed: str, index: int, pds_endpoints: Sequence[str]) -> SimAccount:
    """Recompute account `index` of `seed` (its DID, handle, PDS and private keys)."""
    host = index % len(pds_endpoints)
    handle = f"u{index}.pds{host}.test"
    signing = signing_key_for(seed, index)
    rotation = PrivateKey.from_bytes(Curve.K256, _secret(seed, index, "rotation", 0))
    op = _genesis_operation(rotation, signing.public_key, handle, pds_endpoints[host])
    return SimAccount(index, genesis_did(op), handle, pds_endpoints[host], signing, rotation)


def _now_us() -> int:
    return time.time_ns() // 1000


def _audit_entry(did: str, record: _Record) -> dict[str, Any]:
    operation: dict[str, Any]
    if record.tombstoned:
        operation = {"type": "plc_tombstone", "prev": None, "sig": ""}
    else:
        operation = {
            "type": "plc_operation",
            "rotationKeys": [],
            "verificationMethods": {"atproto": record.signing_key},
            "alsoKnownAs": [f"at://{record.handle}"] if record.handle else [],
            "services": (
                {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": record.pds_endpoint}}
                if record.pds_endpoint
                else {}
            ),
            "prev": None,
            "sig": "",
        }
    return {
        "did": did,
        "operation": operation,
        "cid": str(Cid.for_dag_cbor(encode_dag_cbor(operation))),
        "nullified": False,
        "createdAt": iso_at(record.since_us),
    }


def did_document(did: str, handle: str | None, pds_endpoint: str | None, signing_key: str) -> dict[str, Any]:
    """The DID document a PLC directory renders for this state."""
    doc: dict[str, Any] = {
        "@context": _CONTEXT,
        "id": did,
        "alsoKnownAs": [f"at://{handle}"] if handle else [],
        "verificationMethod": [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": signing_key.removeprefix("did:key:"),
            }
        ],
        "service": [],
    }
    if pds_endpoint:
        doc["service"].append(
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_endpoint}
        )
    return doc


class PlcDirectory:
    """The directory's state: DID → current record, plus the seeded account list.

    Args:
        seed: seed for deterministic accounts.
        pds_endpoints: PDS endpoint per simulated host (accounts are spread round-robin).
    """

    def __init__(self, seed: str = "dev", pds_endpoints: Sequence[str] = (DEFAULT_PDS_ENDPOINT,)) -> None:
        if not pds_endpoints:
            raise ValueError("at least one PDS endpoint is needed")
        self.seed = seed
        self.pds_endpoints = tuple(pds_endpoints)
        self._records: dict[str, _Record] = {}
        self._history: dict[str, list[_Record]] = {}
        """Earlier states of DIDs that changed (most never do, so most have no entry)."""
        self._seeded: list[str] = []

    def __len__(self) -> int:
        return len(self._records)

    @property
    def seeded_count(self) -> int:
        return len(self._seeded)

    def add_accounts(self, count: int) -> list[str]:
        """Create the next `count` deterministic accounts; returns their DIDs."""
        dids = []
        now_us = _now_us()
        for index in range(len(self._seeded), len(self._seeded) + count):
            account = derive_account(self.seed, index, self.pds_endpoints)
            self._records[account.did] = _Record(
                account.handle,
                account.pds_endpoint,
                account.signing_key.public_key.did_key(),
                index,
                since_us=now_us,
            )
            self._seeded.append(account.did)
            dids.append(account.did)
        return dids

    def seeded_did(self, index: int) -> str:
        return self._seeded[index]

    def seeded_dids(self, offset: int, limit: int) -> list[str]:
        return self._seeded[max(offset, 0) : max(offset, 0) + max(limit, 0)]

    def register(self, did: str, *, handle: str | None, pds_endpoint: str | None, signing_key: str) -> None:
        """Add or replace a DID with a generated document."""
        parse_did_key(signing_key)
        self._history.pop(did, None)
        self._records[did] = _Record(handle, pds_endpoint, signing_key, since_us=_now_us())

    def update(
        self,
        did: str,
        *,
        handle: str | None = None,
        pds_endpoint: str | None = None,
        signing_key: str | None = None,
        rotate: bool = False,
    ) -> dict[str, Any]:
        """Change an identity; returns the new document.

        Raises:
            KeyError: unknown DID.
            ValueError: `rotate` on a DID that is not a seeded account.
        """
        record = self._records[did]
        if rotate:
            if record.index is None:
                raise ValueError("only seeded accounts have a next deterministic key")
            rotations = record.rotations + 1
            key = signing_key_for(self.seed, record.index, rotations).public_key.did_key()
            record = replace(record, rotations=rotations, signing_key=key)
        if signing_key is not None:
            parse_did_key(signing_key)
            record = replace(record, signing_key=signing_key)
        if handle is not None:
            record = replace(record, handle=handle)
        if pds_endpoint is not None:
            record = replace(record, pds_endpoint=pds_endpoint)
        self._supersede(did, replace(record, raw=None))
        return did_document(did, record.handle, record.pds_endpoint, record.signing_key)

    def tombstone(self, did: str) -> None:
        """Mark a DID deactivated (410 from then on). Raises KeyError for unknown DIDs."""
        self._supersede(did, replace(self._records[did], tombstoned=True))

    def _supersede(self, did: str, record: _Record) -> None:
        self._history.setdefault(did, []).append(self._records[did])
        self._records[did] = replace(record, since_us=_now_us())

    def audit_log(self, did: str) -> tuple[int, bytes]:
        """HTTP status and body for `GET /<did>/log/audit`."""
        current = self._records.get(did)
        if current is None or current.raw is not None:
            return 404, json.dumps({"message": f"DID not registered: {did}"}).encode()
        entries = [_audit_entry(did, record) for record in [*self._history.get(did, ()), current]]
        return 200, json.dumps(entries, separators=(",", ":")).encode()

    def put_raw(self, did: str, body: bytes) -> None:
        """Serve `body` verbatim for `did`."""
        self._records[did] = _Record(None, None, "", raw=body)

    def lookup(self, did: str) -> tuple[int, bytes]:
        """HTTP status and body for `GET /<did>`."""
        record = self._records.get(did)
        if record is None:
            return 404, json.dumps({"message": f"DID not registered: {did}"}).encode()
        if record.tombstoned:
            return 410, json.dumps({"message": f"DID not available: {did}"}).encode()
        if record.raw is not None:
            return 200, record.raw
        doc = did_document(did, record.handle, record.pds_endpoint, record.signing_key)
        return 200, json.dumps(doc, separators=(",", ":")).encode()

    def account_info(self, index: int) -> dict[str, Any]:
        did = self._seeded[index]
        record = self._records[did]
        return {
            "did": did,
            "handle": record.handle,
            "pds_endpoint": record.pds_endpoint,
            "signing_key": record.signing_key,
        }


def create_app(directory: PlcDirectory) -> Starlette:
    """The Starlette app serving `directory` (see the module docstring for routes)."""

    async def get_document(request: Request) -> Response:
        status, body = directory.lookup(request.path_params["did"])
        return Response(body, status, media_type=_DID_JSON if status == 200 else "application/json")

    async def audit_log(request: Request) -> Response:
        status, body = directory.audit_log(request.path_params["did"])
        return Response(body, status, media_type="application/json")

    async def did_web_document(request: Request) -> Response:
        host = request.headers.get("host", "").replace(":", "%3A")
        status, body = directory.lookup(f"did:web:{host}")
        return Response(body, status, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"accounts": len(directory)})

    async def account(request: Request) -> Response:
        index = request.path_params["index"]
        if not 0 <= index < directory.seeded_count:
            return JSONResponse({"message": "no such account"}, 404)
        return JSONResponse(directory.account_info(index))

    async def seeded_dids(request: Request) -> Response:
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = min(int(request.query_params.get("limit", "1000")), 10_000)
        except ValueError:
            return JSONResponse({"message": "offset and limit must be integers"}, 400)
        return JSONResponse({"dids": directory.seeded_dids(offset, limit)})

    async def register(request: Request) -> Response:
        body = await request.json()
        try:
            directory.register(
                body["did"],
                handle=body.get("handle"),
                pds_endpoint=body.get("pds_endpoint"),
                signing_key=body["signing_key"],
            )
        except (KeyError, TypeError, InvalidKey) as exc:
            return JSONResponse({"message": f"bad registration: {exc}"}, 400)
        return JSONResponse({"did": body["did"]})

    async def update(request: Request) -> Response:
        body = await request.json()
        try:
            doc = directory.update(
                request.path_params["did"],
                handle=body.get("handle"),
                pds_endpoint=body.get("pds_endpoint"),
                signing_key=body.get("signing_key"),
                rotate=bool(body.get("rotate", False)),
            )
        except KeyError:
            return JSONResponse({"message": "DID not registered"}, 404)
        except (ValueError, InvalidKey) as exc:
            return JSONResponse({"message": str(exc)}, 400)
        return JSONResponse(doc)

    async def tombstone(request: Request) -> Response:
        try:
            directory.tombstone(request.path_params["did"])
        except KeyError:
            return JSONResponse({"message": "DID not registered"}, 404)
        return JSONResponse({})

    async def put_raw(request: Request) -> Response:
        directory.put_raw(request.path_params["did"], await request.body())
        return JSONResponse({})

    return Starlette(
        routes=[
            Route("/_health", health),
            Route("/.well-known/did.json", did_web_document),
            Route("/_sim/accounts/{index:int}", account),
            Route("/_sim/dids", seeded_dids),
            Route("/_sim/register", register, methods=["POST"]),
            Route("/_sim/update/{did}", update, methods=["POST"]),
            Route("/_sim/tombstone/{did}", tombstone, methods=["POST"]),
            Route("/_sim/raw/{did}", put_raw, methods=["PUT"]),
            Route("/{did}/log/audit", audit_log),
            Route("/{did}", get_document),
        ]
    )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(directory: PlcDirectory) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(directory), lifespan="off", ws="none", log_level="warning", access_log=False
    )
    return uvicorn.Server(config)


@contextlib.asynccontextmanager
async def running_plc_directory(
    directory: PlcDirectory, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `directory` in the current event loop; yields its base URL (`http://host:port`)."""
    sock = _bind(host, port)
    server = _server(directory)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _main(args: argparse.Namespace) -> None:
    directory = PlcDirectory(args.seed, args.pds or [DEFAULT_PDS_ENDPOINT])
    directory.add_accounts(args.accounts)
    sock = _bind(args.host, args.port)
    server = _server(directory)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    print(json.dumps({"event": "ready", "url": url, "accounts": len(directory)}), flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.netsim.plc_directory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=2582, help="0 picks a free port")
    parser.add_argument("--accounts", type=int, default=100, help="deterministic accounts to create")
    parser.add_argument("--seed", default="dev", help="seed for account keys and DIDs")
    parser.add_argument("--pds", action="append", help="PDS endpoint URL; repeat for several hosts")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
