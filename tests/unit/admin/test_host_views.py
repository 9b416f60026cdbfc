"""Stored host rows merged with the slurper's live connections."""

from __future__ import annotations

from relay_admin.hosts import merge_host_views
from relay_proto.slurper.v1 import slurper_pb2
from relay_proto.types.v1 import types_pb2


def test_connections_are_matched_by_hostname() -> None:
    hosts = [types_pb2.Host(hostname="a.example", cursor=5), types_pb2.Host(hostname="b.example", cursor=7)]
    connections = [
        slurper_pb2.Connection(hostname="b.example", connected=True, events_per_second=3.0, cursor=9),
        slurper_pb2.Connection(hostname="c.example", connected=True),
    ]
    views = merge_host_views(hosts, connections)
    assert [v.host.hostname for v in views] == ["a.example", "b.example"]
    assert not views[0].connected and views[0].live_cursor == 0
    assert views[1].connected and views[1].events_per_second == 3.0 and views[1].live_cursor == 9
