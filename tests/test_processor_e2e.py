"""An instrumented app -> the real OpenTelemetry Collector (collector-config/app-collector-to-processor.yaml)
-> the genai-otel processor service -> real Jaeger v2; the trace read back from Jaeger is normalised,
costed and redacted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from genai_otel import semconv as sc
from genai_otel.processor.service import ProcessorService

from .backends import BIN, ensure_built, jaeger
from .servers import REPO, free_port, run_server, wait_until
from .test_processor import OPENLLMETRY

CONFIGS = sorted((REPO / "collector-config").glob("*.yaml"))


def _collector(config: Path, port: int, env: dict):
    """A committed config in the real collector. Its own telemetry is off: the default Prometheus port
    (8888) would clash between collectors the parallel tests run at the same time."""
    command = [
        str(BIN / "otelcol-genai"),
        "--config",
        str(config),
        "--set=service.telemetry.metrics.level=none",
    ]
    return run_server(command, port, env=env, timeout=60)


@contextmanager
def _app(port: int) -> Iterator[Any]:
    """A tracer of an app exporting each span over OTLP/gRPC to 127.0.0.1:``port`` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True))
    )
    try:
        yield provider.get_tracer("app")
    finally:
        provider.shutdown()


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
        with _collector(config, port, env):
            with (
                _app(port) as tracer,
                tracer.start_as_current_span("openai.chat", attributes=OPENLLMETRY) as span,
            ):
                trace_id = format(span.get_span_context().trace_id, "032x")
            found = backend.wait_for_trace(trace_id, spans=1)
    [span] = found["spans"]
    tags = {t["key"]: t["value"] for t in span["tags"]}
    assert tags["gen_ai.provider.name"] == "openai" and tags["gen_ai.operation.name"] == "chat"
    assert tags["gen_ai.usage.input_tokens"] == 1000 and tags["genai_otel.usage.cost"] > 0
    assert "[REDACTED:EMAIL]" in tags["gen_ai.input.messages"]
    assert not any(key.startswith(("llm.", "gen_ai.prompt.", "traceloop.")) for key in tags)


def test_pure_collector_config_is_current():
    from genai_otel.processor.collector_config import render

    committed = (REPO / "collector-config" / "pure-collector.yaml").read_text()
    assert committed == render(), "run: genai-otel collector-config > collector-config/pure-collector.yaml"


def test_pure_collector_normalises_and_costs_with_ottl_alone():
    from genai_otel.processor import CostRule, NormalizeRule, SpanRecord, apply_rules
    from genai_otel.testing.conformance import span_view
    from genai_otel.testing.otlp_receiver import OtlpReceiver

    from .test_processor import OPENINFERENCE

    ensure_built()
    port = free_port()
    embedded_text = {"embedding.embeddings.0.embedding.text": "hello"}  # dropped by prefix
    dialect_spans = (("openllmetry", OPENLLMETRY), ("openinference", {**OPENINFERENCE, **embedded_text}))
    with OtlpReceiver() as downstream:
        env = {
            **os.environ,
            "OTLP_LISTEN": f"127.0.0.1:{port}",
            "OTLP_FORWARD": downstream.endpoint.removeprefix("http://"),
        }
        config = REPO / "collector-config" / "pure-collector.yaml"
        with _collector(config, port, env):
            with _app(port) as tracer:
                for name, attributes in dialect_spans:
                    with tracer.start_as_current_span(name, attributes=attributes):
                        pass
            wait_until(lambda: len(downstream.spans()) >= 2)
    spans = {span.name: span_view(span).attributes for _, span in downstream.spans()}
    for name, attributes in dialect_spans:
        got = spans[name]
        # The same numbers as the processor's rules compute from the same data.
        expected = apply_rules(SpanRecord(name, dict(attributes)), [NormalizeRule(), CostRule()]).attributes
        for key in (
            sc.GEN_AI_OPERATION_NAME,
            sc.GEN_AI_PROVIDER_NAME,
            sc.GEN_AI_USAGE_INPUT_TOKENS,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        ):
            assert got[key] == expected[key], (name, key)
        assert got[sc.GENAI_OTEL_USAGE_COST] == pytest.approx(expected[sc.GENAI_OTEL_USAGE_COST])
        assert not any(k.startswith(("llm.token", "openinference.", "traceloop.", "embedding.")) for k in got)


def test_loadbalanced_processors_each_see_whole_traces(tmp_path: Path):
    """collector-config/app-collector-to-processors-loadbalanced.yaml in the real collector in front of two
    processor instances: every span of a trace reaches the same instance (each forwards to its own
    receiver here, to tell them apart), both get traces, and a tool call repeated across separate requests
    of one trace is flagged by the loop rule. Both instances evaluate (trace window, repeated_actions):
    every trace is judged exactly once, whole, by the instance that got it."""
    from genai_otel.processor.config_file import from_dict
    from genai_otel.testing.conformance import otlp_value, span_view
    from genai_otel.testing.otlp_receiver import OtlpReceiver

    ensure_built()
    port = free_port()
    tool_call = {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: "search",
        sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"q": "same"}',
    }
    # A trace is judged 2 s after its last span: the app's spans of one trace come within that.
    window = {"idle_seconds": 2, "max_age_seconds": 60}
    evaluation = {"evaluation": {"evaluators": ["repeated_actions"], "trace_window": window}}
    with (
        OtlpReceiver() as first,
        OtlpReceiver() as second,
        ProcessorService(
            "127.0.0.1:0",
            first.endpoint.removeprefix("http://"),
            tmp_path / "one",
            config=from_dict(evaluation),
        ) as one,
        ProcessorService(
            "127.0.0.1:0",
            second.endpoint.removeprefix("http://"),
            tmp_path / "two",
            config=from_dict(evaluation),
        ) as two,
    ):
        env = {
            **os.environ,
            "OTLP_LISTEN": f"127.0.0.1:{port}",
            "GENAI_OTEL_PROCESSORS": f"[127.0.0.1:{one.port}, 127.0.0.1:{two.port}]",
        }
        config = REPO / "collector-config" / "app-collector-to-processors-loadbalanced.yaml"
        with _collector(config, port, env):
            with _app(port) as tracer:  # every span its own request
                for _ in range(12):
                    agent = {sc.GEN_AI_OPERATION_NAME: "invoke_agent"}
                    with tracer.start_as_current_span("invoke_agent", attributes=agent):
                        for _ in range(3):
                            with tracer.start_as_current_span("execute_tool search", attributes=tool_call):
                                pass
            wait_until(lambda: len(first.spans()) + len(second.spans()) >= 48, timeout=30)
            # judged once idle (not only at the stop), results straight to each instance's downstream
            wait_until(lambda: len(first.logs()) + len(second.logs()) >= 12, timeout=30)
    traces_at = [
        {
            span.trace_id: [span_view(s).attributes for _, s in r.spans() if s.trace_id == span.trace_id]
            for _, span in r.spans()
        }
        for r in (first, second)
    ]
    assert sum(len(t) for t in traces_at) == 12 and all(traces_at), "both instances get traces"
    assert not set(traces_at[0]) & set(traces_at[1]), "a trace went to both instances"
    for traces in traces_at:
        for spans in traces.values():
            assert len(spans) == 4  # the whole trace at one instance
            repeats = sorted(s.get(sc.GENAI_OTEL_LOOP_REPEATS, 0) for s in spans if sc.GEN_AI_TOOL_NAME in s)
            assert repeats == [0, 0, 3]  # the third identical call, seen across three requests
    for traces, receiver in zip(traces_at, (first, second), strict=True):
        judged = [event.trace_id for event in receiver.logs()]
        assert sorted(judged) == sorted(traces), "each trace judged once, by the instance that got it"
        for event in receiver.logs():
            attributes = {kv.key: otlp_value(kv.value) for kv in event.attributes}
            assert attributes[sc.GEN_AI_EVALUATION_NAME] == "repeated_actions"
            assert attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "loop"  # judged with the whole trace


def test_collector_sends_otlp_http_json_gzip_to_the_processor(tmp_path: Path):
    """The real collector's otlphttp exporter, JSON-encoded and gzip-compressed (what JavaScript SDKs and
    many collectors send), into the processor's OTLP/HTTP port: ids survive the hex mapping, the span is
    enriched."""
    from genai_otel.testing.conformance import span_view
    from genai_otel.testing.otlp_receiver import OtlpReceiver

    ensure_built()
    port = free_port()
    with (
        OtlpReceiver() as downstream,
        ProcessorService(
            "127.0.0.1:0",
            downstream.endpoint.removeprefix("http://"),
            tmp_path / "spool",
            http_listen="127.0.0.1:0",
        ) as processor,
    ):
        config = tmp_path / "otlphttp-json.yaml"
        config.write_text(
            "receivers: {otlp: {protocols: {grpc: {endpoint: '${env:OTLP_LISTEN}'}}}}\n"
            "exporters:\n"
            "  otlphttp:\n"
            f"    traces_endpoint: http://127.0.0.1:{processor.http_port}/v1/traces\n"
            "    encoding: json\n"
            "    compression: gzip\n"
            "service: {pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}}\n"
        )
        with _collector(config, port, {**os.environ, "OTLP_LISTEN": f"127.0.0.1:{port}"}):
            with (
                _app(port) as tracer,
                tracer.start_as_current_span("openai.chat", attributes=OPENLLMETRY) as span,
            ):
                sent = span.get_span_context()
            wait_until(lambda: downstream.spans(), timeout=30)
    [(_, received)] = downstream.spans()
    assert int.from_bytes(received.trace_id, "big") == sent.trace_id
    assert int.from_bytes(received.span_id, "big") == sent.span_id
    attributes = span_view(received).attributes
    assert attributes[sc.GEN_AI_PROVIDER_NAME] == "openai" and attributes[sc.GENAI_OTEL_USAGE_COST] > 0
    assert "[REDACTED:EMAIL]" in attributes[sc.GEN_AI_INPUT_MESSAGES]


def test_tempo_and_metrics_config_feeds_the_grafana_dashboard():
    """The real collector runs processor-to-tempo-and-metrics.yaml: traces reach the (OTLP) Tempo
    endpoint, and every metric the Grafana dashboard queries is in the Prometheus scrape."""
    import json
    import re
    import urllib.request

    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from genai_otel.evaluation.api import EvaluationResult
    from genai_otel.processor.evaluation import EvaluationMetrics
    from genai_otel.testing.otlp_receiver import OtlpReceiver

    ensure_built()
    port, metrics_port = free_port(), free_port()
    dashboard = json.loads((REPO / "collector-config" / "grafana" / "genai-dashboard.json").read_text())
    wanted = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\b(genai_[a-z_]+)\b", target["expr"])
    }
    with OtlpReceiver() as tempo:
        env = {
            **os.environ,
            "OTLP_LISTEN": f"127.0.0.1:{port}",
            "TEMPO_ENDPOINT": tempo.endpoint.removeprefix("http://"),
            "PROMETHEUS_LISTEN": f"127.0.0.1:{metrics_port}",
        }
        config = REPO / "collector-config" / "processor-to-tempo-and-metrics.yaml"
        with _collector(config, port, env):
            with _app(port) as tracer:
                for attributes in (
                    {
                        sc.GEN_AI_OPERATION_NAME: "chat",
                        sc.GEN_AI_PROVIDER_NAME: "openai",
                        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
                        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                        sc.GENAI_OTEL_USAGE_COST: 0.0001,
                    },
                    {
                        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
                        sc.GEN_AI_AGENT_NAME: "planner",
                        sc.ERROR_TYPE: "Timeout",
                    },
                ):
                    with tracer.start_as_current_span("call", attributes=attributes):
                        pass
            # The evaluation panels' metrics, as an app's (or the service's) evaluation records them.
            meters = MeterProvider(
                metric_readers=[
                    PeriodicExportingMetricReader(
                        OTLPMetricExporter(endpoint=f"127.0.0.1:{port}", insecure=True)
                    )
                ]
            )
            evaluation = EvaluationMetrics(meters)
            evaluation.record_score(
                EvaluationResult("groundedness", 0.25, "ungrounded"),
                {sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_AGENT_NAME: "planner"},
            )
            evaluation.count_skipped("groundedness", "budget")
            evaluation.count_trace("idle")
            meters.shutdown()

            def scraped() -> str:
                url = f"http://127.0.0.1:{metrics_port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.read().decode()

            wait_until(lambda: all(name in scraped() for name in wanted) and len(tempo.spans()) == 2, 30)
            scrape = scraped()
    missing = [name for name in wanted if name not in scrape]
    assert not missing, f"dashboard queries metrics the collector does not produce: {missing}"
    assert len(tempo.spans()) == 2
    assert 'gen_ai_request_model="gpt-4o"' in scrape
    assert (
        'genai_otel_evaluation_score_count{gen_ai_agent_name="planner",gen_ai_evaluation_name="groundedness"'
        in scrape
    )
