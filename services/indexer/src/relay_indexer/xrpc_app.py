"""The indexer's public HTTP API: the com.atproto.sync queries a relay answers from its own state.

Served by uvicorn on the indexer's HTTP port (2472; the dev router forwards /xrpc/* here).
Shapes follow the lexicons in shared/lexicons/com/atproto/sync exactly; errors are XRPC JSON
bodies `{"error": Name, "message": ...}`: 400 `InvalidRequest` for bad parameters, 400 with the
lexicon's own names (RepoNotFound, HostNotFound, ...), 501 `MethodNotImplemented` for an NSID this
service does not serve, 405 `InvalidRequest` for a non-GET request to a query.

Pages end with a `cursor` only when more items follow; cursors are opaque (`cursor_codec`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from relay_indexer import xrpc_params as p
from relay_indexer.account import Account, AccountStatus
from relay_indexer.collection_index import CollectionIndex
from relay_indexer.cursor_codec import encode_cursor
from relay_indexer.errors import XrpcError
from relay_indexer.host import Host
from relay_indexer.host_store import HostStore
from relay_indexer.repo_store import RepoStore

__all__ = ["XRPC_METHODS", "create_xrpc_app"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response | dict[str, Any]]]

_LATEST_COMMIT_ERRORS = {
    AccountStatus.TAKENDOWN: ("RepoTakendown", "Repo has been takendown"),
    AccountStatus.SUSPENDED: ("RepoSuspended", "Repo has been suspended"),
    AccountStatus.DEACTIVATED: ("RepoDeactivated", "Repo has been deactivated"),
    AccountStatus.DELETED: ("RepoNotFound", "Repo has been deleted"),
}


def _repo_not_found(did: str) -> XrpcError:
    return XrpcError("RepoNotFound", f"Could not find repo for DID: {did}")


def _host_json(host: Host) -> dict[str, Any]:
    return {
        "hostname": host.hostname,
        "seq": host.cursor,
        "accountCount": host.account_count,
        "status": host.status.value,
    }


class _Queries:
    """The query handlers, closed over the stores they read."""

    def __init__(self, repos: RepoStore, hosts: HostStore, index: CollectionIndex, version: str) -> None:
        self.repos = repos
        self.hosts = hosts
        self.index = index
        self.version = version

    async def list_repos_by_collection(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        collection = p.nsid_param(params, "collection")
        limit = p.limit_param(params, default=500, maximum=2000)
        after = p.did_cursor_param(params)
        page = self.index.list_repos(collection, after=after, limit=limit)
        body: dict[str, Any] = {"repos": [{"did": did} for did in page.dids]}
        if page.more:
            body["cursor"] = encode_cursor(page.dids[-1])
        return body

    async def list_repos(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        limit = p.limit_param(params, default=500, maximum=1000)
        after = p.did_cursor_param(params)
        accounts = await self.repos.list_repos(after=after, limit=limit + 1)
        repos = []
        for account in accounts[:limit]:
            assert account.head is not None
            repo: dict[str, Any] = {
                "did": account.did,
                "head": account.head.commit_cid,
                "rev": account.head.rev,
                "active": account.active,
            }
            if not account.active:
                repo["status"] = account.status.value
            repos.append(repo)
        body: dict[str, Any] = {"repos": repos}
        if len(accounts) > limit:
            body["cursor"] = encode_cursor(accounts[limit - 1].did)
        return body

    async def _account(self, request: Request) -> Account:
        did = p.did_param(request.query_params)
        account = await self.repos.get_account(did)
        if account is None:
            raise _repo_not_found(did)
        return account

    async def get_repo_status(self, request: Request) -> dict[str, Any]:
        account = await self._account(request)
        body: dict[str, Any] = {"did": account.did, "active": account.active}
        if not account.active:
            body["status"] = account.status.value
        elif account.head is not None:
            body["rev"] = account.head.rev
        return body

    def _servable(self, account: Account) -> None:
        """Raise the lexicon error a repo query owes for an account that may not be served."""
        if error := _LATEST_COMMIT_ERRORS.get(account.status):
            raise XrpcError(*error)

    async def get_latest_commit(self, request: Request) -> dict[str, Any]:
        account = await self._account(request)
        self._servable(account)
        if account.head is None:
            raise _repo_not_found(account.did)
        return {"cid": account.head.commit_cid, "rev": account.head.rev}

    async def get_repo(self, request: Request) -> Response:
        since = p.optional_tid_param(request.query_params, "since")
        account = await self._account(request)
        self._servable(account)
        host = await self.hosts.get_host(account.host) if account.host else None
        if host is None:
            raise _repo_not_found(account.did)
        # NOTE: a relay does not keep repo blocks; the account's PDS serves the CAR.
        query = {"did": account.did} | ({"since": since.value} if since else {})
        scheme = "http" if host.no_tls else "https"
        url = f"{scheme}://{host.hostname}/xrpc/com.atproto.sync.getRepo?{urlencode(query)}"
        return RedirectResponse(url, status_code=302)

    async def list_hosts(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        limit = p.limit_param(params, default=200, maximum=1000)
        after = p.int_cursor_param(params)
        hosts = await self.hosts.list_hosts(after_id=after, limit=limit + 1)
        body: dict[str, Any] = {"hosts": [_host_json(h) for h in hosts[:limit]]}
        if len(hosts) > limit:
            body["cursor"] = encode_cursor(str(hosts[limit - 1].id))
        return body

    async def get_host_status(self, request: Request) -> dict[str, Any]:
        hostname = p.hostname_param(request.query_params)
        host = await self.hosts.get_host(hostname)
        if host is None:
            raise XrpcError("HostNotFound", f"Host not found: {hostname}")
        return _host_json(host)

    async def health(self, request: Request) -> dict[str, Any]:
        return {"version": self.version}


XRPC_METHODS = (
    "com.atproto.sync.getHostStatus",
    "com.atproto.sync.getLatestCommit",
    "com.atproto.sync.getRepo",
    "com.atproto.sync.getRepoStatus",
    "com.atproto.sync.listHosts",
    "com.atproto.sync.listRepos",
    "com.atproto.sync.listReposByCollection",
)
"""The NSIDs this app serves (besides `_health`); the dev router forwards these to the indexer."""


# Every method reaches `dispatch`, so a POST to a query gets an XRPC error body, not a bare 405.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _error(name: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": name, "message": message}, status_code=status)


def create_xrpc_app(*, repos: RepoStore, hosts: HostStore, index: CollectionIndex, version: str) -> Starlette:
    """Build the Starlette app over the given stores (the caller owns their lifetimes)."""
    q = _Queries(repos, hosts, index, version)
    handlers: dict[str, Handler] = {
        "com.atproto.sync.listReposByCollection": q.list_repos_by_collection,
        "com.atproto.sync.listRepos": q.list_repos,
        "com.atproto.sync.getRepoStatus": q.get_repo_status,
        "com.atproto.sync.getLatestCommit": q.get_latest_commit,
        "com.atproto.sync.getRepo": q.get_repo,
        "com.atproto.sync.listHosts": q.list_hosts,
        "com.atproto.sync.getHostStatus": q.get_host_status,
        "_health": q.health,
    }

    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.path_params["nsid"])
        if handler is None:
            return _error("MethodNotImplemented", "Method Not Implemented", 501)
        if request.method not in ("GET", "HEAD"):
            return _error("InvalidRequest", f"Incorrect HTTP method ({request.method}) expected GET", 405)
        try:
            result = await handler(request)
        except XrpcError as exc:
            return _error(exc.name, exc.message, exc.status)
        return result if isinstance(result, Response) else JSONResponse(result)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error("NotFound", "Not Found", status)

    async def internal_error(request: Request, exc: Exception) -> Response:
        logger.exception("xrpc handler failed", extra={"path": request.url.path})
        return _error("InternalServerError", "Internal Server Error", 500)

    return Starlette(
        routes=[Route("/xrpc/{nsid}", dispatch, methods=_ALL_METHODS)],
        exception_handlers={404: not_found, 500: internal_error},
    )
