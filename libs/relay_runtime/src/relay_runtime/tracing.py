"""OpenTelemetry setup and W3C trace-context carriage over NATS headers and gRPC metadata.

A tracer provider is always installed, even with no exporter, because otherwise spans are
non-recording and carry no ids: the trace id would not survive slurper → NATS → validator →
gRPC → resolver. Exporting is switched on by the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; the
other standard ``OTEL_*`` variables (service name, sampler, resource attributes) are read by the
SDK itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = [
    "configure_tracing",
    "context_from_headers",
    "context_from_metadata",
    "current_trace_id",
    "inject_headers",
    "inject_metadata",
    "shutdown_tracing",
]

_TRACE_KEYS: Final = ("traceparent", "tracestate", "baggage")


def configure_tracing(service: str, *, otlp_endpoint: str = "") -> TracerProvider:
    """Install the global tracer provider once per process and return it.

    A second call (tests start several runtimes in one process) returns the existing provider:
    OpenTelemetry refuses to replace a global provider.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", f"relay-{service}")})
    provider = TracerProvider(resource=resource)
    if otlp_endpoint:
        # Imported only when exporting: the OTLP exporter pulls in grpc channels we otherwise skip.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing() -> None:
    """Flush pending spans (last step of shutdown)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


def inject_headers(headers: dict[str, str] | None = None, context: Context | None = None) -> dict[str, str]:
    """Add ``traceparent`` (and ``tracestate``) for the current span to NATS ``headers``."""
    carrier: dict[str, str] = {} if headers is None else headers
    propagate.inject(carrier, context=context)
    return carrier


def context_from_headers(headers: Mapping[str, str] | None) -> Context:
    """The trace context a NATS message carried (an empty context when it carried none)."""
    return propagate.extract(dict(headers or {}))


def inject_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | None = None,
) -> list[tuple[str, str | bytes]]:
    """gRPC metadata with the current trace context appended (keys are lower-case in gRPC)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out = [(k, v) for k, v in (metadata or ()) if k not in _TRACE_KEYS]
    out.extend(carrier.items())
    return out


def context_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> Context:
    """The trace context found in incoming gRPC metadata."""
    carrier = {k: v for k, v in (metadata or ()) if isinstance(v, str) and k in _TRACE_KEYS}
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    """Hex trace id of the active span, or None outside any span."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
