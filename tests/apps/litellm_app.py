"""Runs in the LiteLLM virtualenv (LiteLLM pins openai < 3): LiteLLM calls with the openai SDK also
instrumented; prints every finished span as JSON for tests/test_litellm.py."""

from __future__ import annotations

import asyncio
import json
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of LiteLLM's price list
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.testing.conformance import check_metrics, check_spans
from genai_otel.testing.model_server import ModelServer

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
instrumented = genai_otel.instrument()

import litellm  # noqa: E402
import openai  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi there"}]


def scenario(name: str, run) -> None:
    exporter.clear()
    error = None
    try:
        run()
    except Exception as exc:  # the scenario records what the app saw
        error = type(exc).__name__
    spans = exporter.get_finished_spans()
    print(
        json.dumps(
            {
                "scenario": name,
                "error": error,
                "violations": [str(v) for v in check_spans(spans, content_captured=True)],
                "spans": [
                    {
                        "name": s.name,
                        "scope": s.instrumentation_scope.name,
                        "kind": s.kind.name,
                        "status": s.status.status_code.name,
                        "parent": s.parent.span_id if s.parent else None,
                        "attributes": {
                            k: list(v) if isinstance(v, tuple) else v for k, v in s.attributes.items()
                        },
                    }
                    for s in spans
                ],
            }
        ),
        flush=True,
    )


def finish() -> None:
    violations = [str(v) for v in check_metrics(reader.get_metrics_data())]
    print(
        json.dumps(
            {
                "scenario": "metrics",
                "violations": violations,
                "names": sorted(
                    m.name
                    for rm in reader.get_metrics_data().resource_metrics
                    for sm in rm.scope_metrics
                    for m in sm.metrics
                ),
            }
        )
    )


with ModelServer() as server:
    base = server.openai_base_url
    print(
        json.dumps(
            {
                "instrumented": instrumented,
                "openai": openai.__version__,
                "litellm": __import__("importlib.metadata").metadata.version("litellm"),
            }
        )
    )
    scenario(
        "openai",
        lambda: litellm.completion(
            model="openai/gpt-4o-mini", messages=MESSAGES, api_base=base, api_key="sk-x", temperature=0.2
        ),
    )
    scenario(
        "anthropic",
        lambda: litellm.completion(
            model="anthropic/claude-sonnet",
            messages=MESSAGES,
            api_base=server.url,
            api_key="sk-x",
            max_tokens=40,
        ),
    )
    scenario(
        "stream",
        lambda: list(
            litellm.completion(
                model="openai/gpt-4o",
                messages=MESSAGES,
                api_base=base,
                api_key="sk-x",
                stream=True,
                stream_options={"include_usage": True},
            )
        ),
    )
    scenario(
        "async",
        lambda: asyncio.run(
            litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, api_base=base, api_key="sk-x")
        ),
    )
    scenario(
        "embedding",
        lambda: litellm.embedding(
            model="openai/text-embedding-3-small", input=["a b", "c"], api_base=base, api_key="sk-x"
        ),
    )
    scenario(
        "error",
        lambda: litellm.completion(
            model="openai/error-429", messages=MESSAGES, api_base=base, api_key="sk-x", num_retries=0
        ),
    )

    def closed_early() -> None:
        stream = litellm.completion(
            model="openai/gpt-4o", messages=MESSAGES, api_base=base, api_key="sk-x", stream=True
        )
        next(iter(stream))
        stream.close()  # the app stops reading: the span still ends

    scenario("stream-closed", closed_early)
    scenario(
        "sdk-alone",
        lambda: openai.OpenAI(base_url=base, api_key="sk-x").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        ),
    )

finish()
