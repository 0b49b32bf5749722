"""Telemetry set-up shared by the three services of the multi-agent example."""

from __future__ import annotations

import atexit
import os
import signal
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import genai_otel


def setup_telemetry(service: str) -> TracerProvider:
    """OTLP export to ``OTEL_EXPORTER_OTLP_ENDPOINT``, genai-otel, and httpx propagation.

    genai_otel.instrument() wraps the global propagator, so the httpx instrumentation (and
    FastAPI's, on the server side) carry agent baggage under genai-otel's policy.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    genai_otel.instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    atexit.register(provider.shutdown)  # flush every span before the process goes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return provider


def chat(client, prompt: str, model: str = "gpt-4o-mini") -> str:
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    return reply.choices[0].message.content or ""


def openai_client(async_client: bool = False):
    import openai

    cls = openai.AsyncOpenAI if async_client else openai.OpenAI
    return cls(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ.get("OPENAI_API_KEY", "local"))
