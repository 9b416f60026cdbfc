"""The CLI's human-readable rendering of each AdminService answer (``--json`` skips these)."""

from __future__ import annotations

from relay_proto.admin.v1 import admin_pb2 as pb
from relay_proto.types.v1 import types_pb2

from relay_admin.tables import format_duration, format_rate, format_table, format_time_us

__all__ = [
    "account_detail",
    "backfill_detail",
    "ban_added",
    "ban_removed",
    "bans_table",
    "consumers_table",
    "crawl_policy",
    "host_detail",
    "hosts_table",
    "kicked",
    "stats_text",
]


def _host_status(value: types_pb2.HostStatus.ValueType) -> str:
    return types_pb2.HostStatus.Name(value).removeprefix("HOST_STATUS_").lower()


def _account_status(value: types_pb2.AccountStatus.ValueType) -> str:
    return types_pb2.AccountStatus.Name(value).removeprefix("ACCOUNT_STATUS_").lower()


def _accounts(host: types_pb2.Host) -> str:
    limit = host.limits.account_limit
    return f"{host.account_count:,}/{limit:,}" if limit else f"{host.account_count:,}/default"


def hosts_table(reply: pb.ListHostsResponse) -> str:
    rows = [
        (
            v.host.hostname,
            _host_status(v.host.status),
            v.connected,
            v.live_cursor or v.host.cursor,
            _accounts(v.host),
            format_rate(v.events_per_second) if v.connected else "-",
            v.host.trusted,
            v.last_error or v.host.status_reason,
        )
        for v in reply.hosts
    ]
    text = format_table(
        ["host", "status", "connected", "cursor", "accounts", "events/s", "trusted", "note"], rows
    )
    if reply.cursor:
        text += f"\nmore: --cursor {reply.cursor}"
    for error in reply.errors:
        text += f"\nwarning: {error}"
    return text


def _host_lines(view: pb.HostView) -> str:
    h = view.host
    limits = h.limits
    pairs = [
        ("host", h.hostname),
        ("status", _host_status(h.status) + (f" ({h.status_reason})" if h.status_reason else "")),
        ("connected", "yes" if view.connected else "no"),
        ("cursor", f"{max(view.live_cursor, h.cursor):,}"),
        ("accounts", _accounts(h)),
        ("trusted", "yes" if h.trusted else "no"),
        (
            "rate limits",
            f"{limits.events_per_second or 'default'}/s, {limits.events_per_hour or 'default'}/h, "
            f"{limits.events_per_day or 'default'}/day",
        ),
        ("first seen", format_time_us(h.created_at_us)),
        ("last seen", format_time_us(h.last_seen_at_us)),
    ]
    if view.last_error:
        pairs.append(("last error", view.last_error))
    return "\n".join(f"{k + ':':<13}{v}" for k, v in pairs)


def host_detail(
    reply: pb.GetHostResponse
    | pb.AddHostResponse
    | pb.BanHostResponse
    | pb.UnbanHostResponse
    | pb.SetHostLimitsResponse
    | pb.SetHostTrustedResponse,
) -> str:
    view = reply.host if isinstance(reply, pb.GetHostResponse) else pb.HostView(host=reply.host)
    text = _host_lines(view)
    if isinstance(reply, pb.BanHostResponse):
        text += "\n" + ("disconnected" if reply.kicked else "was not connected")
    if isinstance(reply, pb.SetHostLimitsResponse | pb.SetHostTrustedResponse) and reply.reconnected:
        text += "\nreconnected to apply the change"
    return text


def kicked(reply: pb.KickHostResponse) -> str:
    text = "disconnected" if reply.kicked else "was not connected"
    return text + ("; reconnected" if reply.reconnected else "")


def bans_table(reply: pb.ListDomainBansResponse) -> str:
    rows = [(b.domain, format_time_us(b.created_at_us), b.reason) for b in reply.bans]
    return format_table(["domain", "since", "reason"], rows)


def ban_added(reply: pb.AddDomainBanResponse) -> str:
    hosts = ", ".join(reply.banned_hosts) or "none"
    return f"banned {reply.ban.domain} and everything under it; hosts banned: {hosts}"


def ban_removed(reply: pb.RemoveDomainBanResponse) -> str:
    if not reply.removed:
        return "no such ban"
    hosts = ", ".join(reply.unbanned_hosts) or "none"
    return f"ban removed; hosts now idle again: {hosts}"


def crawl_policy(reply: pb.GetCrawlPolicyResponse | pb.SetCrawlPolicyResponse) -> str:
    policy = reply.policy
    switch = "on" if policy.public_request_crawl else "off"
    return f"public requestCrawl: {switch}\nnew hosts per day:   {policy.new_hosts_per_day:,}"


def account_detail(
    reply: pb.GetAccountStatusResponse | pb.TakedownAccountResponse | pb.ReverseTakedownResponse,
) -> str:
    a = reply.account
    pairs = [
        ("did", a.did),
        ("host", a.host or "-"),
        ("status", _account_status(a.status)),
        ("upstream", _account_status(a.upstream_status)),
        ("local", _account_status(a.local_status)),
        ("rev", a.rev or "-"),
    ]
    if isinstance(reply, pb.TakedownAccountResponse | pb.ReverseTakedownResponse):
        pairs.append(("#account seq", f"{reply.event_seq:,}"))
    if isinstance(reply, pb.TakedownAccountResponse):
        scrub = reply.scrub_error or f"{reply.events_scrubbed:,} events scrubbed"
        pairs.append(("replay scrub", scrub))
    return "\n".join(f"{k + ':':<14}{v}" for k, v in pairs)


def backfill_detail(
    reply: pb.StartBackfillResponse | pb.PauseBackfillResponse | pb.ResumeBackfillResponse,
) -> str:
    p = reply.progress
    state = types_pb2.BackfillState.Name(p.state).removeprefix("BACKFILL_STATE_").lower()
    pairs = [
        ("job", p.job_id),
        ("state", state),
        ("kind", types_pb2.BackfillKind.Name(p.kind).removeprefix("BACKFILL_KIND_").lower()),
        *(
            [("source", p.source), ("collections", ", ".join(p.collections) or "all known")]
            if p.kind == types_pb2.BACKFILL_KIND_IMPORT
            else [("hosts", ", ".join(p.hosts) or "every active host")]
        ),
        ("repos", f"{p.repos_done:,} done, {p.repos_failed:,} failed of {p.repos_total:,}"),
    ]
    if p.last_error:
        pairs.append(("last error", p.last_error))
    return "\n".join(f"{k + ':':<12}{v}" for k, v in pairs)


def consumers_table(reply: pb.ListConsumersResponse) -> str:
    rows = [
        (
            c.id,
            c.remote_addr,
            format_time_us(c.connected_at_us),
            c.start_cursor or "live",
            c.sent_seq,
            c.queued_events,
            c.sent_events,
            c.user_agent,
        )
        for c in reply.consumers
    ]
    return format_table(["id", "remote", "since", "cursor", "sent seq", "queued", "sent", "user agent"], rows)


def stats_text(reply: pb.GetStatsResponse) -> str:
    f = reply.firehose
    lines = [
        f"hosts connected:     {reply.hosts_connected:,}",
        f"events in:           {format_rate(reply.ingest_events_per_second)}",
        f"events verified:     {format_rate(reply.verified_events_per_second)}"
        f" ({reply.events_verified:,} total, queue {reply.validator_queue_depth:,})",
        f"events out:          {format_rate(f.events_per_second)} to {f.consumer_count:,} consumers",
        f"replay window:       seq {f.first_seq:,}..{f.last_seq:,}"
        f" ({format_duration(f.replay_window_seconds)})",
        "",
        format_table(["drop reason", "count"], [(d.reason, d.count) for d in reply.drops]),
        "",
        format_table(
            ["service", "address", "health", "error"],
            [(s.service, s.address, s.status, s.error) for s in reply.services],
        ),
    ]
    lines.extend(f"warning: {e}" for e in reply.errors)
    return "\n".join(lines)
