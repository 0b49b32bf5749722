"""An instrumented app -> the real OpenTelemetry Collector (collector-config/app-collector-to-processor.yaml)
-> the genai-otel processor service -> real Jaeger v2; the trace read back from Jaeger is normalised,
costed and redacted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from genai_otel.processor.service import ProcessorService

from .backends import BIN, ensure_built, jaeger
from .servers import REPO, free_port, run_server
from .test_processor import OPENLLMETRY

CONFIGS = sorted((REPO / "collector-config").glob("*.yaml"))


def test_every_collector_config_passes_the_real_collectors_validation():
    ensure_built()
    assert CONFIGS
    for config in CONFIGS:
        done = subprocess.run(
            [str(BIN / "otelcol-genai"), "validate", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{config.name}: {done.stderr[-2000:]}"


def test_app_to_collector_to_processor_to_jaeger(tmp_path: Path):
    ensure_built()
    with (
        jaeger() as backend,
        ProcessorService(
            "127.0.0.1:0", backend.otlp_endpoint.removeprefix("http://"), tmp_path / "spool"
        ) as processor,
    ):
        port = free_port()
        env = {
            **os.environ,
            "OTLP_LISTEN": f"127.0.0.1:{port}",
            "GENAI_OTEL_PROCESSOR_ENDPOINT": f"127.0.0.1:{processor.port}",
        }
        config = REPO / "collector-config" / "app-collector-to-processor.yaml"
        with run_server([str(BIN / "otelcol-genai"), "--config", str(config)], port, env=env, timeout=60):
            provider = TracerProvider()
            provider.add_span_processor(
                SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True))
            )
            with provider.get_tracer("app").start_as_current_span(
                "openai.chat", attributes=OPENLLMETRY
            ) as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
            provider.shutdown()
            found = backend.wait_for_trace(trace_id, min_spans=1)
    [span] = found["spans"]
    tags = {t["key"]: t["value"] for t in span["tags"]}
    assert tags["gen_ai.provider.name"] == "openai" and tags["gen_ai.operation.name"] == "chat"
    assert tags["gen_ai.usage.input_tokens"] == 1000 and tags["genai_otel.usage.cost"] > 0
    assert "[REDACTED:EMAIL]" in tags["gen_ai.input.messages"]
    assert not any(key.startswith(("llm.", "gen_ai.prompt.", "traceloop.")) for key in tags)
