"""One simulated PDS host: its accounts, its own seq, its backlog, and its XRPC answers.

`SimHost` is the host's state and logic with no sockets in it; `tools.netsim.listener` puts it on
a port. Sequencing is where frame-level defects happen: a `truncated_cbor` frame consumes a seq
but arrives cut short, a `seq_not_increasing` frame repeats the previous seq.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from relay_core.firehose.frames import encode_frame

from tools.netsim.backlog import Backlog
from tools.netsim.broken import BrokenKind
from tools.netsim.ledger import LedgerEntry
from tools.netsim.plc_directory import did_document
from tools.netsim.repo import PreparedEvent, SimRepo

__all__ = ["LIST_REPOS_MAX_LIMIT", "FrameSink", "SimHost"]

LIST_REPOS_MAX_LIMIT: Final = 1000
_LIST_REPOS_DEFAULT_LIMIT: Final = 500

FrameSink = Callable[[bytes], None]
"""Receives each frame as it is sequenced (the listener broadcasts it to live subscribers)."""

JsonAnswer = tuple[int, dict[str, Any]]


def _error(status: int, error: str, message: str) -> JsonAnswer:
    return status, {"error": error, "message": message}


class SimHost:
    """A PDS as a relay sees it.

    Args:
        index: host number in the network (handles are `u<i>.pds<index>.test`).
        port: the port it listens on; its hostname is `localhost:<port>`.
        backlog: the replay window.
    """

    def __init__(self, index: int, port: int, *, backlog: Backlog | None = None) -> None:
        self.index = index
        self.port = port
        self.backlog = backlog if backlog is not None else Backlog()
        self.repos: dict[str, SimRepo] = {}
        self.seq = 0
        self.sinks: list[FrameSink] = []

    @property
    def hostname(self) -> str:
        """How a relay names this host (`localhost:<port>`)."""
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        """The PDS endpoint in its accounts' DID documents."""
        return f"http://localhost:{self.port}"

    def add_repo(self, repo: SimRepo) -> None:
        self.repos[repo.did] = repo

    def sequence(self, event: PreparedEvent, *, time: str | None = None) -> tuple[LedgerEntry, bytes]:
        """Give `event` its seq, encode it, keep it in the backlog and hand it to the sinks.

        Args:
            time: replaces the body's `time`, when it has one (for events made ahead of sending).

        Returns:
            The ledger entry and the frame bytes as sent.
        """
        if event.broken is BrokenKind.SEQ_NOT_INCREASING and self.seq > 0:
            seq = self.seq
        else:
            self.seq += 1
            seq = self.seq
        body = {**event.body, "seq": seq}
        if time is not None and "time" in body:
            body["time"] = time
        frame = encode_frame(event.type, body)
        if event.broken is BrokenKind.TRUNCATED_CBOR:
            frame = frame[: len(frame) // 2]
        self.backlog.append(seq, frame)
        for sink in self.sinks:
            sink(frame)
        return LedgerEntry(self.hostname, seq, event.did, event.type, event.rev, event.broken), frame

    def describe_server(self) -> JsonAnswer:
        """`com.atproto.server.describeServer`, shaped like `@atproto/pds`'s answer."""
        return 200, {
            "did": f"did:web:localhost%3A{self.port}",
            "availableUserDomains": [f".pds{self.index}.test"],
            "inviteCodeRequired": False,
            "phoneVerificationRequired": False,
            "links": {},
            "contact": {},
        }

    def list_repos(self, params: dict[str, str]) -> JsonAnswer:
        """`com.atproto.sync.listRepos`: created repos ordered by DID, paged by a DID cursor."""
        try:
            limit = int(params.get("limit", _LIST_REPOS_DEFAULT_LIMIT))
        except ValueError:
            return _error(400, "InvalidRequest", "limit must be an integer")
        if not 1 <= limit <= LIST_REPOS_MAX_LIMIT:
            return _error(400, "InvalidRequest", f"limit must be 1..{LIST_REPOS_MAX_LIMIT}")
        cursor = params.get("cursor", "")
        dids = sorted(did for did, repo in self.repos.items() if repo.created and did > cursor)
        page = dids[:limit]
        repos = []
        for did in page:
            repo = self.repos[did]
            item: dict[str, Any] = {
                "did": did,
                "head": str(repo.head),
                "rev": str(repo.rev),
                "active": repo.active,
            }
            if repo.status is not None:
                item["status"] = repo.status
            repos.append(item)
        answer: dict[str, Any] = {"repos": repos}
        if len(dids) > limit:
            answer["cursor"] = page[-1]
        return 200, answer

    def describe_repo(self, params: dict[str, str]) -> JsonAnswer:
        """`com.atproto.repo.describeRepo`: handle, DID document and the repo's collections."""
        repo = self.repos.get(params.get("repo", ""))
        if repo is None:
            for candidate in self.repos.values():
                if candidate.handle == params.get("repo"):
                    repo = candidate
                    break
        if repo is None or not repo.created:
            return _error(400, "RepoNotFound", f"Could not find repo: {params.get('repo', '')}")
        return 200, {
            "handle": repo.handle,
            "did": repo.did,
            "didDoc": did_document(repo.did, repo.handle, self.url, repo.signing_key),
            "collections": repo.collections,
            "handleIsCorrect": True,
        }
