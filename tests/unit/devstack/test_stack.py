"""Port table, service specs and the status table."""

from __future__ import annotations

import json
from pathlib import Path

from relay_devstack.stack import SERVICE_NAMES, StackConfig, build_service_specs, service_ports
from relay_devstack.status import render_table
from relay_devstack.supervisor import EventReason, ServiceEvent


def test_ports_match_docs_ports_md() -> None:
    assert service_ports("slurper") == service_ports("slurper", 0)
    assert (service_ports("slurper").grpc, service_ports("slurper").ops, service_ports("slurper").http) == (
        50051,
        9101,
        2471,
    )
    assert service_ports("admin").grpc == 50056 and service_ports("admin").http is None
    assert service_ports("firehose").http == 2473
    assert service_ports("indexer", 1000).http == 3472


def test_specs_carry_every_port_and_shared_keys() -> None:
    config = StackConfig(state_dir=Path("/tmp/x"), port_offset=100)
    specs = build_service_specs(
        config, nats_url="nats://127.0.0.1:4322", database_url="postgresql://p@/relay"
    )
    assert [s.name for s in specs] == list(SERVICE_NAMES)
    validator = next(s for s in specs if s.name == "validator")
    assert validator.argv[1:] == ("-m", "relay_validator")
    assert validator.env["RELAY_VALIDATOR_GRPC_PORT"] == "50152"
    assert validator.env["RELAY_RESOLVER_GRPC_PORT"] == "50153"  # peers findable under any offset
    assert validator.env["RELAY_RESOLVER_ADDRESS"] == "127.0.0.1:50153"
    assert validator.env["NATS_URL"] == "nats://127.0.0.1:4322"
    assert validator.env["DATABASE_URL"] == "postgresql://p@/relay"
    assert validator.env["RELAY_DEV_MODE"] == "1"
    assert validator.health_url == "http://127.0.0.1:9202/healthz"
    assert "RELAY_VALIDATOR_HTTP_PORT" not in validator.env
    assert validator.env["RELAY_INDEXER_ROCKSDB_PATH"] == str(
        Path("/tmp/x").resolve() / "indexer" / "collections"
    )


def test_event_json_is_one_flat_line_without_empty_fields() -> None:
    event = ServiceEvent(
        service="indexer", reason=EventReason.MEMORY_LIMIT, pid=7, restarts=2, rss_bytes=9, limit_bytes=8
    )
    assert json.loads(event.to_json()) == {
        "event": "service",
        "service": "indexer",
        "reason": "memory_limit",
        "pid": 7,
        "restarts": 2,
        "rss_bytes": 9,
        "limit_bytes": 8,
    }


def test_status_table_lists_services_and_shared_endpoints() -> None:
    stack = {
        "router": {"origin": "http://127.0.0.1:2470"},
        "nats": {"client_url": "nats://127.0.0.1:4222", "monitor_url": "http://127.0.0.1:8222"},
        "postgres": {"dsn": "postgresql://postgres@/relay?host=/s"},
        "services": [
            {"name": "slurper", "pid": 11, "restarts": 0, "memory_limit_bytes": 512 << 20,
             "ports": {"grpc": 50051, "ops": 9101, "http": 2471}, "health_url": None},
            {"name": "admin", "pid": None, "restarts": 3, "memory_limit_bytes": 128 << 20,
             "ports": {"grpc": 50056, "ops": 9106}, "health_url": None},
        ],
    }  # fmt: skip
    table = render_table(stack, {"slurper": True, "admin": False})
    lines = table.splitlines()
    assert lines[0].split() == ["service", "health", "pid", "restarts", "mem", "limit", "gRPC", "ops", "HTTP"]
    assert lines[1].split() == ["slurper", "ok", "11", "0", "512", "MiB", "127.0.0.1:50051", "127.0.0.1:9101",
                                "127.0.0.1:2471"]  # fmt: skip
    assert lines[2].split()[:4] == ["admin", "DOWN", "-", "3"]
    assert "public origin  http://127.0.0.1:2470" in table
    assert "postgresql://postgres@/relay?host=/s" in table


def test_free_port_offset_skips_a_range_with_a_busy_port() -> None:
    import socket

    from relay_devstack.stack import free_port_offset

    first = free_port_offset(seed=7)
    assert first % 100 == 0 and 1_000 <= first <= 15_400
    with socket.socket() as busy:  # the router port of that range is taken now
        busy.bind(("127.0.0.1", 2470 + first))
        assert free_port_offset(seed=7) != first
