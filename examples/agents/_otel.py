"""What every agent-framework example shares: a model endpoint (the local model server that speaks the
providers' wire protocols, unless ``OPENAI_BASE_URL`` points at a real one), tracing for the embedded default
(the trace printed as a tree) or OTLP/gRPC export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and
genai-otel instrumenting everything installed.

    from _otel import Example

    with Example("openai-agents example") as example:
        ...  # build the agent with example.openai_base_url / example.url, run it
        example.answer = result
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.console import render_tree

#: The model the examples ask for: the local model server calls the declared tool, then answers.
MODEL = "gpt-4o-mini-tool"
QUESTION = "What is the weather in Paris?"


def get_weather(city: str) -> str:
    """Current weather for a city (the examples' one tool)."""
    return f"Sunny and 21 C in {city}"


class Example:
    """Sets up the model endpoint and tracing on enter; prints the answer and the trace on exit."""

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.answer: Any = None
        self._server: Any = None
        self._memory: InMemorySpanExporter | None = None

    @property
    def url(self) -> str:
        """The model server's root URL (Anthropic, Gemini, Ollama clients take this)."""
        if self._server is not None:
            return self._server.url
        return os.environ["OPENAI_BASE_URL"].rsplit("/v1", 1)[0]

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> Example:
        if not os.environ.get("OPENAI_BASE_URL"):
            from genai_otel.testing.model_server import ModelServer

            self._server = ModelServer().start()
            os.environ["OPENAI_BASE_URL"] = self._server.openai_base_url
        os.environ.setdefault("OPENAI_API_KEY", "sk-local-example")
        os.environ.setdefault("ANTHROPIC_API_KEY", "sk-local-example")
        provider = TracerProvider(resource=Resource.create({"service.name": self.service_name}))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            self._memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(self._memory))
        trace.set_tracer_provider(provider)
        genai_otel.instrument()
        return self

    def __exit__(self, *exc: object) -> None:
        genai_otel.uninstrument()
        provider = trace.get_tracer_provider()
        provider.force_flush()  # type: ignore[attr-defined]
        if exc[0] is None:
            print(f"answer: {str(self.answer)[:100]}")
        if self._memory is not None:
            print("\n" + render_tree(self._memory.get_finished_spans()))
        else:
            print(f"exported to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}")
        provider.shutdown()  # type: ignore[attr-defined]
        if self._server is not None:
            self._server.stop()
