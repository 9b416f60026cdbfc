"""``relay-admin``: the operator's command line, a thin client of ``relay.admin.v1.AdminService``.

Every command is one (or, for ``crawl on/off/limit`` and ``hosts limits``, a read then a write)
call of the same gRPC API grpcurl reaches, so anything the CLI does a script can do too.
Answers print as tables, or as protobuf JSON with ``--json``. Errors print ``error: CODE:
message`` on stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from relay_proto.admin.v1 import admin_pb2 as pb, admin_pb2_grpc
from relay_proto.types.v1 import types_pb2

from relay_admin import cli_views
from relay_admin.tables import progress_bar

__all__ = ["DEFAULT_ADDRESS", "build_parser", "host_statuses", "main", "run_command"]

DEFAULT_ADDRESS: Final = "127.0.0.1:50056"
_TOKEN_ENV: Final = "RELAY_ADMIN_TOKEN"
_ADDRESS_ENV: Final = "RELAY_ADMIN_ADDR"

Stub = admin_pb2_grpc.AdminServiceStub
Renderer = Callable[[Any], str]


def host_statuses(raw: str) -> list[types_pb2.HostStatus.ValueType]:
    """``active,banned`` → the enum values; argparse reports a ValueError as a usage error."""
    out = []
    for name in (s.strip() for s in raw.split(",") if s.strip()):
        key = "HOST_STATUS_" + name.upper()
        if key not in types_pb2.HostStatus.keys() or name.lower() == "unspecified":
            raise argparse.ArgumentTypeError(f"unknown host status {name!r}")
        out.append(types_pb2.HostStatus.Value(key))
    return out


def _non_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay-admin", description="Operate the relay over its admin gRPC API."
    )
    parser.add_argument(
        "--addr", default=os.environ.get(_ADDRESS_ENV, DEFAULT_ADDRESS), help="admin gRPC address"
    )
    parser.add_argument("--token", default=None, help=f"bearer token (default: ${_TOKEN_ENV})")
    parser.add_argument("--json", action="store_true", help="print protobuf JSON instead of tables")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    hosts = groups.add_parser("hosts", help="upstream hosts (PDSes)").add_subparsers(
        dest="cmd", required=True
    )
    p = hosts.add_parser("list", help="hosts with status, cursor, accounts, events/s, connected")
    p.add_argument("--status", type=host_statuses, default=[], help="comma-separated, e.g. active,banned")
    p.add_argument("--limit", type=_non_negative, default=0, help="page size (default: server's)")
    p.add_argument("--cursor", default="", help="cursor from a previous page")
    hosts.add_parser("show", help="one host").add_argument("hostname")
    hosts.add_parser("add", help="follow a host now (no public limits; bans apply)").add_argument("hostname")
    p = hosts.add_parser("kick", help="disconnect a host")
    p.add_argument("hostname")
    p.add_argument("--reconnect", action="store_true", help="connect again right away")
    p = hosts.add_parser("ban", help="ban and disconnect a host")
    p.add_argument("hostname")
    p.add_argument("--reason", default="")
    hosts.add_parser("unban", help="lift a host ban (host stays idle)").add_argument("hostname")
    p = hosts.add_parser("limits", help="set account and rate limits (0 = relay default)")
    p.add_argument("hostname")
    p.add_argument("--accounts", type=_non_negative, help="account limit")
    p.add_argument("--per-second", type=_non_negative, help="events per second")
    p.add_argument("--per-hour", type=_non_negative, help="events per hour")
    p.add_argument("--per-day", type=_non_negative, help="events per day")
    p = hosts.add_parser("trust", help="mark a host trusted (higher default limits)")
    p.add_argument("hostname")
    p.add_argument("--off", action="store_true", help="remove the trusted mark")

    bans = groups.add_parser("bans", help="domain-suffix bans").add_subparsers(dest="cmd", required=True)
    bans.add_parser("list")
    p = bans.add_parser("add", help="ban a domain and every name under it")
    p.add_argument("domain")
    p.add_argument("--reason", default="")
    bans.add_parser("remove").add_argument("domain")

    crawl = groups.add_parser("crawl", help="public requestCrawl policy").add_subparsers(
        dest="cmd", required=True
    )
    crawl.add_parser("show")
    crawl.add_parser("on")
    crawl.add_parser("off")
    crawl.add_parser("limit", help="new hosts admitted per day").add_argument("per_day", type=_non_negative)

    accounts = groups.add_parser("accounts", help="account moderation").add_subparsers(
        dest="cmd", required=True
    )
    p = accounts.add_parser("takedown", help="take an account down relay-wide")
    p.add_argument("did")
    p.add_argument("--reason", default="")
    p.add_argument("--scrub", action="store_true", help="also delete its events from the replay window")
    accounts.add_parser("restore", help="reverse a takedown").add_argument("did")
    accounts.add_parser("status", help="effective, upstream and local status").add_argument("did")

    backfill = groups.add_parser("backfill", help="repo backfill jobs").add_subparsers(
        dest="cmd", required=True
    )
    start = backfill.add_parser("start", help="start a backfill job").add_subparsers(
        dest="mode", required=True
    )
    p = start.add_parser("import", help="copy another relay's collection directory")
    p.add_argument("source", help="relay base URL, e.g. https://relay1.us-east.bsky.network")
    p.add_argument("--collection", action="append", default=[], help="NSID to copy (repeatable; default all)")
    p = start.add_parser("crawl", help="walk PDS hosts: listRepos + describeRepo")
    p.add_argument("hosts", nargs="*", help="hostnames (none = every active host)")
    backfill.add_parser("pause").add_argument("job_id")
    backfill.add_parser("resume").add_argument("job_id")
    p = backfill.add_parser("watch", help="progress bar until the job ends")
    p.add_argument("job_id", nargs="?", default="", help="default: the most recent job")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")

    groups.add_parser("consumers", help="firehose consumers")
    groups.add_parser("stats", help="events/s in and out, drops, service health")
    return parser


async def _limits(stub: Stub, args: argparse.Namespace, md: Any) -> Message:
    timeout = args.timeout
    current = (
        await stub.GetHost(pb.GetHostRequest(hostname=args.hostname), timeout=timeout, metadata=md)
    ).host
    limits = types_pb2.HostLimits()
    limits.CopyFrom(current.host.limits)
    for flag, field in (
        ("accounts", "account_limit"),
        ("per_second", "events_per_second"),
        ("per_hour", "events_per_hour"),
        ("per_day", "events_per_day"),
    ):
        if getattr(args, flag) is not None:
            setattr(limits, field, getattr(args, flag))
    request = pb.SetHostLimitsRequest(hostname=args.hostname, limits=limits)
    reply: Message = await stub.SetHostLimits(request, timeout=timeout, metadata=md)
    return reply


async def _crawl(stub: Stub, args: argparse.Namespace, md: Any) -> Message:
    timeout = args.timeout
    reply = await stub.GetCrawlPolicy(pb.GetCrawlPolicyRequest(), timeout=timeout, metadata=md)
    if args.cmd == "show":
        result: Message = reply
        return result
    policy = types_pb2.CrawlPolicy()
    policy.CopyFrom(reply.policy)
    if args.cmd in ("on", "off"):
        policy.public_request_crawl = args.cmd == "on"
    else:
        policy.new_hosts_per_day = args.per_day
    result = await stub.SetCrawlPolicy(pb.SetCrawlPolicyRequest(policy=policy), timeout=timeout, metadata=md)
    return result


def _request(args: argparse.Namespace) -> tuple[str, Message, Renderer]:
    """The unary RPC, request and renderer of every single-call command."""
    v = cli_views
    match args.group, getattr(args, "cmd", None):
        case "hosts", "list":
            req: Message = pb.ListHostsRequest(cursor=args.cursor, limit=args.limit, statuses=args.status)
            return "ListHosts", req, v.hosts_table
        case "hosts", "show":
            return "GetHost", pb.GetHostRequest(hostname=args.hostname), v.host_detail
        case "hosts", "add":
            return "AddHost", pb.AddHostRequest(hostname=args.hostname), v.host_detail
        case "hosts", "kick":
            return "KickHost", pb.KickHostRequest(hostname=args.hostname, reconnect=args.reconnect), v.kicked
        case "hosts", "ban":
            return "BanHost", pb.BanHostRequest(hostname=args.hostname, reason=args.reason), v.host_detail
        case "hosts", "unban":
            return "UnbanHost", pb.UnbanHostRequest(hostname=args.hostname), v.host_detail
        case "hosts", "trust":
            req = pb.SetHostTrustedRequest(hostname=args.hostname, trusted=not args.off)
            return "SetHostTrusted", req, v.host_detail
        case "bans", "list":
            return "ListDomainBans", pb.ListDomainBansRequest(), v.bans_table
        case "bans", "add":
            return "AddDomainBan", pb.AddDomainBanRequest(domain=args.domain, reason=args.reason), v.ban_added
        case "bans", "remove":
            return "RemoveDomainBan", pb.RemoveDomainBanRequest(domain=args.domain), v.ban_removed
        case "accounts", "takedown":
            req = pb.TakedownAccountRequest(did=args.did, reason=args.reason, scrub_replay=args.scrub)
            return "TakedownAccount", req, v.account_detail
        case "accounts", "restore":
            return "ReverseTakedown", pb.ReverseTakedownRequest(did=args.did), v.account_detail
        case "accounts", "status":
            return "GetAccountStatus", pb.GetAccountStatusRequest(did=args.did), v.account_detail
        case "backfill", "start" if args.mode == "import":
            kind = types_pb2.BACKFILL_KIND_IMPORT
            req = pb.StartBackfillRequest(kind=kind, source=args.source, collections=args.collection)
            return "StartBackfill", req, v.backfill_detail
        case "backfill", "start":
            req = pb.StartBackfillRequest(kind=types_pb2.BACKFILL_KIND_CRAWL, hosts=args.hosts)
            return "StartBackfill", req, v.backfill_detail
        case "backfill", "pause":
            return "PauseBackfill", pb.PauseBackfillRequest(job_id=args.job_id), v.backfill_detail
        case "backfill", "resume":
            return "ResumeBackfill", pb.ResumeBackfillRequest(job_id=args.job_id), v.backfill_detail
        case "consumers", _:
            return "ListConsumers", pb.ListConsumersRequest(), v.consumers_table
        case "stats", _:
            return "GetStats", pb.GetStatsRequest(), v.stats_text
    raise ValueError(f"unknown command {args.group} {getattr(args, 'cmd', '')}")


def _render(renderer: Renderer, reply: Message) -> str:
    return renderer(reply)


def _to_json(message: Message) -> str:
    return json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2, sort_keys=True)


async def _watch(stub: Stub, args: argparse.Namespace, md: Any, out: TextIO) -> None:
    request = pb.WatchBackfillProgressRequest(job_id=args.job_id, follow=not args.once)
    live = out.isatty() and not args.json
    async for view in stub.WatchBackfillProgress(request, metadata=md):
        if args.json:
            print(json.dumps(MessageToDict(view, preserving_proto_field_name=True), sort_keys=True), file=out)
            continue
        p = view.progress
        state = types_pb2.BackfillState.Name(p.state).removeprefix("BACKFILL_STATE_").lower()
        line = progress_bar(
            done=p.repos_done + p.repos_failed,
            total=p.repos_total,
            rate=view.repos_per_second,
            eta_seconds=view.eta_seconds,
            state=state,
        )
        print(("\r" + line) if live else line, end="" if live else "\n", file=out, flush=True)
    if live:
        print(file=out)


async def run_command(args: argparse.Namespace, *, out: TextIO = sys.stdout) -> None:
    """Run one parsed command against ``args.addr``; gRPC errors propagate as ``AioRpcError``."""
    token = args.token if args.token is not None else os.environ.get(_TOKEN_ENV, "")
    md = (("authorization", f"Bearer {token}"),) if token else None
    async with grpc.aio.insecure_channel(args.addr) as channel:
        stub = Stub(channel)
        if args.group == "backfill" and args.cmd == "watch":
            await _watch(stub, args, md, out)
            return
        reply: Message
        renderer: Renderer
        if args.group == "crawl":
            renderer = cli_views.crawl_policy
            reply = await _crawl(stub, args, md)
        elif args.group == "hosts" and args.cmd == "limits":
            renderer = cli_views.host_detail
            reply = await _limits(stub, args, md)
        else:
            method, request, renderer = _request(args)
            reply = await getattr(stub, method)(request, timeout=args.timeout, metadata=md)
        print(_to_json(reply) if args.json else _render(renderer, reply), file=out)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(run_command(args))
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
