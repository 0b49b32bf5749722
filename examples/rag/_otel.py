"""What every RAG example shares: tracing set up for the embedded default (the trace printed as a tree)
or, with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, OTLP/gRPC export; then genai-otel instruments everything."""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma: no product telemetry
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # haystack: no product telemetry

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.console import render_tree

DOCUMENTS = {
    "otel": "OpenTelemetry carries trace context between services in the traceparent header.",
    "baggage": "Baggage carries key-value pairs such as a conversation id along the request path.",
    "rag": "Retrieval-augmented generation retrieves documents and adds them to the prompt.",
    "vectors": "Vector stores answer nearest-neighbour queries over embeddings.",
}
QUESTION = "How does trace context travel between services?"


def setup(service_name: str) -> InMemorySpanExporter | None:
    """Install a TracerProvider (OTLP when an endpoint is set, else in memory) and instrument."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    memory = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    genai_otel.instrument()
    return memory


def finish(memory: InMemorySpanExporter | None, answer: str, root: trace.Span | None = None) -> None:
    """Print the answer and the trace (embedded default) or its id (to look it up in the backend)."""
    print(f"answer: {answer[:100]}")
    if memory is not None:
        print("\n" + render_tree(memory.get_finished_spans()))
    elif root is not None:
        endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        print(f"trace {root.get_span_context().trace_id:032x} exported to {endpoint}")
    genai_otel.uninstrument()
    trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
