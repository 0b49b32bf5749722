"""Runs in the dialects virtualenv (OpenLIT: the openlit one): one anchor library (OpenLLMetry,
OpenInference, OpenLIT or the OpenTelemetry contrib openai-v2 instrumentation) instruments the real OpenAI
SDK, calls go to the local model server, and the anchor's spans are exported over OTLP to the processor
under test (tests/test_processor_dialects.py).

    python dialects_app.py DIALECT OTLP_ENDPOINT OPENAI_BASE_URL
"""

from __future__ import annotations

import os
import sys

dialect, endpoint, base_url = sys.argv[1:4]
os.environ["TRACELOOP_TRACE_CONTENT"] = "true"  # OpenLLMetry: content on (its default, made explicit)
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"  # contrib openai-v2
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"

from opentelemetry import trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

provider = TracerProvider(resource=Resource.create({"service.name": f"dialect-{dialect}"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
trace.set_tracer_provider(provider)

if dialect == "openlit":
    import openlit

    # OpenLIT instruments everything it finds; only its OpenAI spans are wanted here (not HTTP spans), and
    # no metrics or events (it would set up console exporters for them).
    http = ["httpx", "requests", "urllib", "urllib3", "aiohttp-client"]
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"  # OpenLIT reads true/false
    openlit.init(disable_metrics=True, disable_events=True, disable_batch=True, disabled_instrumentors=http)
else:
    if dialect == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif dialect == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402

client = openai.OpenAI(base_url=base_url, api_key="sk-dialect-test", max_retries=0)
client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Mail jane.doe@example.com the weather"}],
    temperature=0.2,
)
stream = client.chat.completions.create(
    model="gpt-4o",
    messages=[{"role": "user", "content": "Stream a haiku"}],
    stream=True,
    stream_options={"include_usage": True},
)
for _chunk in stream:
    pass
client.embeddings.create(model="text-embedding-3-small", input=["Paris is in France"])
provider.shutdown()
print("dialect app done", flush=True)
