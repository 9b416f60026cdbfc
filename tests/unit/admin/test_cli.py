"""CLI argument parsing, command → request mapping, and the human views of answers."""

from __future__ import annotations

import argparse

import pytest
from relay_admin import cli, cli_views
from relay_admin.cli import build_parser
from relay_proto.admin.v1 import admin_pb2 as pb
from relay_proto.types.v1 import types_pb2


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_global_options_default_to_the_local_admin_port() -> None:
    args = parse("stats")
    assert args.addr == "127.0.0.1:50056"
    assert args.token is None
    assert not args.json


def test_hosts_list_parses_statuses_and_limit() -> None:
    args = parse("--json", "hosts", "list", "--status", "active, banned", "--limit", "5")
    method, request, _ = cli._request(args)
    assert method == "ListHosts"
    assert isinstance(request, pb.ListHostsRequest)
    assert list(request.statuses) == [types_pb2.HOST_STATUS_ACTIVE, types_pb2.HOST_STATUS_BANNED]
    assert request.limit == 5
    assert args.json


@pytest.mark.parametrize(
    "argv",
    [
        ("hosts", "list", "--status", "sleeping"),
        ("hosts", "list", "--limit", "-1"),
        ("hosts", "limits", "h.example", "--per-second", "-5"),
        ("crawl", "limit", "many"),
        ("crawl", "limit", "-3"),
        ("hosts",),
        ("backfill", "start", "import"),
        ("backfill", "start", "fetch"),
        ("nonsense",),
    ],
)
def test_bad_arguments_are_usage_errors(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "method", "fields"),
    [
        (("hosts", "add", "pds.example.com"), "AddHost", {"hostname": "pds.example.com"}),
        (("hosts", "kick", "h", "--reconnect"), "KickHost", {"hostname": "h", "reconnect": True}),
        (("hosts", "ban", "h", "--reason", "spam"), "BanHost", {"hostname": "h", "reason": "spam"}),
        (("hosts", "unban", "h"), "UnbanHost", {"hostname": "h"}),
        (("hosts", "trust", "h"), "SetHostTrusted", {"hostname": "h", "trusted": True}),
        (("hosts", "trust", "h", "--off"), "SetHostTrusted", {"hostname": "h", "trusted": False}),
        (("bans", "add", "example.com"), "AddDomainBan", {"domain": "example.com"}),
        (("bans", "remove", "example.com"), "RemoveDomainBan", {"domain": "example.com"}),
        (
            ("accounts", "takedown", "did:plc:x", "--scrub"),
            "TakedownAccount",
            {"did": "did:plc:x", "scrub_replay": True},
        ),
        (("accounts", "restore", "did:plc:x"), "ReverseTakedown", {"did": "did:plc:x"}),
        (("accounts", "status", "did:plc:x"), "GetAccountStatus", {"did": "did:plc:x"}),
        (
            ("backfill", "start", "crawl", "a.example", "b.example"),
            "StartBackfill",
            {"hosts": ["a.example", "b.example"], "kind": types_pb2.BACKFILL_KIND_CRAWL},
        ),
        (
            ("backfill", "start", "import", "https://relay.example", "--collection", "app.bsky.feed.post"),
            "StartBackfill",
            {"source": "https://relay.example", "collections": ["app.bsky.feed.post"], "kind": 1},
        ),
        (("backfill", "pause", "job-1"), "PauseBackfill", {"job_id": "job-1"}),
        (("backfill", "resume", "job-1"), "ResumeBackfill", {"job_id": "job-1"}),
        (("consumers",), "ListConsumers", {}),
        (("stats",), "GetStats", {}),
    ],
)
def test_each_command_is_one_rpc(argv: tuple[str, ...], method: str, fields: dict[str, object]) -> None:
    got_method, request, _ = cli._request(parse(*argv))
    assert got_method == method
    assert type(request).DESCRIPTOR.name == method + "Request"
    for name, value in fields.items():
        got = getattr(request, name)
        assert (list(got) if isinstance(value, list) else got) == value


def test_hosts_table_view() -> None:
    reply = pb.ListHostsResponse(
        hosts=[
            pb.HostView(
                host=types_pb2.Host(
                    hostname="pds.example.com",
                    status=types_pb2.HOST_STATUS_ACTIVE,
                    cursor=10,
                    account_count=3,
                    limits=types_pb2.HostLimits(account_limit=100),
                ),
                connected=True,
                events_per_second=2.5,
                live_cursor=12,
            ),
            pb.HostView(
                host=types_pb2.Host(
                    hostname="bad.example",
                    status=types_pb2.HOST_STATUS_BANNED,
                    status_reason="spam",
                    trusted=True,
                )
            ),
        ],
        cursor="next",
        errors=["connections unknown: slurper unavailable"],
    )
    assert cli_views.hosts_table(reply).splitlines() == [
        "HOST             STATUS  CONNECTED  CURSOR  ACCOUNTS   EVENTS/S  TRUSTED  NOTE",
        "pds.example.com  active  yes            12  3/100      2.5/s     no       -",
        "bad.example      banned  no              0  0/default  -         yes      spam",
        "more: --cursor next",
        "warning: connections unknown: slurper unavailable",
    ]


def test_account_and_policy_views() -> None:
    takedown = pb.TakedownAccountResponse(
        account=pb.AccountStatusView(
            did="did:plc:x",
            status=types_pb2.ACCOUNT_STATUS_TAKENDOWN,
            upstream_status=types_pb2.ACCOUNT_STATUS_ACTIVE,
            local_status=types_pb2.ACCOUNT_STATUS_TAKENDOWN,
        ),
        event_seq=1234,
        scrub_error="firehose unavailable",
    )
    text = cli_views.account_detail(takedown)
    assert "status:       takendown" in text
    assert "upstream:     active" in text
    assert "#account seq: 1,234" in text
    assert "replay scrub: firehose unavailable" in text
    policy = pb.GetCrawlPolicyResponse(
        policy=types_pb2.CrawlPolicy(public_request_crawl=True, new_hosts_per_day=50)
    )
    assert cli_views.crawl_policy(policy) == "public requestCrawl: on\nnew hosts per day:   50"


def test_stats_view_lists_drops_health_and_missing_peers() -> None:
    reply = pb.GetStatsResponse(
        hosts_connected=2,
        ingest_events_per_second=10.0,
        services=[
            pb.ServiceHealth(service="indexer", address="127.0.0.1:1", status="UNREACHABLE", error="down")
        ],
        errors=["validator unavailable"],
    )
    reply.drops.add(reason="bad_signature", count=7)
    text = cli_views.stats_text(reply)
    assert "hosts connected:     2" in text
    assert "bad_signature      7" in text
    assert "indexer  127.0.0.1:1  UNREACHABLE  down" in text
    assert text.endswith("warning: validator unavailable")
