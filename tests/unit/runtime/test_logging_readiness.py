from __future__ import annotations

import io
import json
import logging

from opentelemetry import trace
from relay_runtime.logging import configure_logging
from relay_runtime.readiness import CheckResult, Readiness
from relay_runtime.tracing import (
    configure_tracing,
    context_from_headers,
    context_from_metadata,
    inject_headers,
    inject_metadata,
)


def test_json_lines_carry_standard_keys_extras_and_trace_id() -> None:
    stream = io.StringIO()
    configure_logging("INFO", service="slurper", stream=stream)
    configure_tracing("test")
    tracer = trace.get_tracer("test")
    try:
        with tracer.start_as_current_span("work") as span:
            logging.getLogger("relay.test").info("frame published", extra={"host": "pds.example", "seq": 7})
            want_trace = format(span.get_span_context().trace_id, "032x")
        logging.getLogger("relay.test").debug("hidden")
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["msg"] == "frame published"
    assert record["service"] == "slurper"
    assert record["level"] == "INFO"
    assert record["host"] == "pds.example" and record["seq"] == 7
    assert record["trace_id"] == want_trace


def test_trace_context_round_trips_through_nats_headers_and_grpc_metadata() -> None:
    configure_tracing("test")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("publish") as span:
        headers = inject_headers({"Nats-Msg-Id": "h:1"})
        metadata = inject_metadata([("x-other", "1")])
        trace_id = span.get_span_context().trace_id
    assert headers["Nats-Msg-Id"] == "h:1" and "traceparent" in headers
    for ctx in (context_from_headers(headers), context_from_metadata(metadata)):
        assert trace.get_current_span(ctx).get_span_context().trace_id == trace_id
    assert ("x-other", "1") in metadata


async def test_readiness_reports_first_failure_and_survives_broken_checks() -> None:
    readiness = Readiness()
    readiness.add("nats", lambda: CheckResult(True))

    async def broken() -> CheckResult:
        raise OSError("db down")

    readiness.add("postgres", broken)
    readiness.not_implemented(4)
    report = await readiness.evaluate()
    assert not report.ready
    assert "db down" in report.reason
    body = report.to_json()
    assert body["checks"]["implemented"] == {"ok": False, "reason": "not implemented yet: issue #4"}  # type: ignore[index]


async def test_readiness_ready_when_all_ok_and_not_during_shutdown() -> None:
    readiness = Readiness()
    readiness.add("nats", lambda: CheckResult(True))
    assert (await readiness.evaluate()).ready
    readiness.mark_shutting_down()
    report = await readiness.evaluate()
    assert not report.ready and report.reason == "shutting down"
