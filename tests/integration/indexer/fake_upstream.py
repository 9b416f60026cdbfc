"""A fake upstream for backfill tests: one starlette app that is both "another relay"
(listReposByCollection) and a PDS (listRepos, describeRepo), served by a real uvicorn on loopback.

Data is deterministic: `n_dids` DIDs; every DID holds `app.bsky.feed.post`, every 2nd
`app.bsky.feed.like`, every 7th the custom `com.example.fancy.thing`. Faults are scripted by
request number (1-based, across all routes): `faults[n] = status` answers request n with that
status (429 with `Retry-After`, 5xx with a JSON error). `hold_after` parks every request after
that many until `release()` (to stop a backfill at an exact page).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
CUSTOM = "com.example.fancy.thing"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def fake_did(i: int) -> str:
    digits = []
    for _ in range(24):
        i, r = divmod(i, 32)
        digits.append(_B32[r])
    return "did:plc:" + "".join(reversed(digits))


def collections_of(i: int) -> list[str]:
    return [POST] + ([LIKE] if i % 2 == 0 else []) + ([CUSTOM] if i % 7 == 0 else [])


@dataclass
class FakeUpstream:
    n_dids: int = 5000
    faults: dict[int, int] = field(default_factory=dict)
    retry_after: str = "0"
    hold_after: int | None = None
    inactive: set[int] = field(default_factory=set)
    """Indices listed by listRepos as inactive (describeRepo then answers RepoDeactivated)."""
    requests: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    """(route, params, status) of every request, in arrival order."""

    def __post_init__(self) -> None:
        self.dids = [fake_did(i) for i in range(self.n_dids)]
        order = sorted(range(self.n_dids), key=lambda i: self.dids[i])
        self.sorted_dids = [self.dids[i] for i in order]
        self.index_of = {d: i for i, d in enumerate(self.dids)}
        self._released = asyncio.Event()
        self.base_url = ""

    def expected(self, collection: str) -> list[str]:
        return [d for d in self.sorted_dids if collection in collections_of(self.index_of[d])]

    def release(self) -> None:
        self._released.set()

    def served(self, route: str) -> list[dict[str, str]]:
        return [p for r, p, s in self.requests if r == route and s == 200]

    async def _gate(self, request: Request, route: str) -> JSONResponse | None:
        number = len(self.requests) + 1
        params = dict(request.query_params)
        if self.hold_after is not None and number > self.hold_after:
            await self._released.wait()
            number = len(self.requests) + 1
        status = self.faults.get(number, 200)
        self.requests.append((route, params, status))
        if status == 200:
            return None
        headers = {"retry-after": self.retry_after} if status == 429 else {}
        return JSONResponse({"error": "Injected", "message": f"fault {status}"}, status, headers=headers)

    def _page(self, dids: list[str], params: dict[str, str]) -> tuple[list[str], str | None]:
        limit = int(params.get("limit", "500"))
        start = bisect.bisect_right(dids, params["cursor"]) if params.get("cursor") else 0
        page = dids[start : start + limit]
        return page, (page[-1] if start + limit < len(dids) else None)

    async def list_by_collection(self, request: Request) -> JSONResponse:
        if (fault := await self._gate(request, "listReposByCollection")) is not None:
            return fault
        params = dict(request.query_params)
        page, cursor = self._page(self.expected(params["collection"]), params)
        body: dict[str, object] = {"repos": [{"did": d} for d in page]}
        if cursor:
            body["cursor"] = cursor
        return JSONResponse(body)

    async def list_repos(self, request: Request) -> JSONResponse:
        if (fault := await self._gate(request, "listRepos")) is not None:
            return fault
        page, cursor = self._page(self.sorted_dids, dict(request.query_params))
        repos = []
        for did in page:
            active = self.index_of[did] not in self.inactive
            repo = {"did": did, "head": "bafyfake", "rev": "3l0000000000a", "active": active}
            repos.append(repo if active else {**repo, "status": "deactivated"})
        body: dict[str, object] = {"repos": repos}
        if cursor:
            body["cursor"] = cursor
        return JSONResponse(body)

    async def describe_repo(self, request: Request) -> JSONResponse:
        if (fault := await self._gate(request, "describeRepo")) is not None:
            return fault
        did = request.query_params["repo"]
        i = self.index_of.get(did)
        if i is None:
            return JSONResponse({"error": "RepoNotFound", "message": did}, 400)
        if i in self.inactive:
            return JSONResponse({"error": "RepoDeactivated", "message": did}, 400)
        return JSONResponse(
            {
                "did": did,
                "handle": f"u{i}.test",
                "didDoc": {},
                "collections": collections_of(i),
                "handleIsCorrect": True,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/xrpc/com.atproto.sync.listReposByCollection", self.list_by_collection),
                Route("/xrpc/com.atproto.sync.listRepos", self.list_repos),
                Route("/xrpc/com.atproto.repo.describeRepo", self.describe_repo),
            ]
        )


@asynccontextmanager
async def serving(upstream: FakeUpstream) -> AsyncIterator[FakeUpstream]:
    """Serve `upstream` on a free loopback port; sets `upstream.base_url`."""
    server = uvicorn.Server(
        uvicorn.Config(upstream.app(), host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        upstream.base_url = f"http://127.0.0.1:{port}"
        yield upstream
    finally:
        upstream.release()
        server.should_exit = True
        await task
