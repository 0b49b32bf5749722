"""Trace-aware evaluation in the processor service and in-process: an instrumented RAG app (LangChain over
an embedded Chroma store) and an agent with tools, content captured, exported over OTLP to the real
processor service, which groups spans per trace, judges them (deterministic evaluators and the model
server as an LLM judge) and sends gen_ai.evaluation.result events downstream tied to the evaluated spans.
Then sampling and budgets, the trace window's bounds, hostile traces and the evaluation metrics."""

from __future__ import annotations

import json
import threading
import tracemalloc
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture
from genai_otel.evaluation.api import EvaluationResult, SpanView
from genai_otel.processor.config_file import ConfigError, from_dict
from genai_otel.processor.evaluation import (
    EvaluatingSpanProcessor,
    EvaluationRunner,
    TraceWindow,
    TraceWindowSettings,
)
from genai_otel.processor.evaluation_sampling import EvaluationSampling, TokenBucket, trace_chosen
from genai_otel.processor.otlp import any_value
from genai_otel.processor.service import EXPORT_METHOD, ProcessorService
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .servers import wait_until
from .test_evaluation_trace import _agent_run, _rag

CAPTURE = pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
ANSWER = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}]}])


def _attributes(proto: Any) -> dict[str, Any]:
    from genai_otel.conventions import otlp_value

    return {kv.key: otlp_value(kv.value) for kv in proto.attributes}


def _metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    return [
        point
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def _service(tmp_path, forward: str, evaluation: dict[str, Any], meter_provider: Any = None) -> Any:
    config = from_dict({"evaluation": evaluation})
    return ProcessorService(
        "127.0.0.1:0", forward, tmp_path / "spool", config=config, meter_provider=meter_provider
    )


def _window(idle: float = 0.3, **settings: Any) -> dict[str, Any]:
    return {"idle_seconds": idle, "max_age_seconds": 60, **settings}


# -- end to end: real apps -> OTLP -> processor -> OTLP receiver ------------------------------------------


@CAPTURE
def test_rag_and_agent_traces_are_judged_and_the_results_reach_the_receiver_tied_to_their_spans(
    otel, model_server, openai_client, tmp_path
):
    _rag(model_server, tmp_path / "chroma")
    _agent_run(openai_client)
    app_spans = otel.spans()
    evaluation = {
        "evaluators": [
            "groundedness",
            "answer_relevance",
            "tool_call_validity",
            "repeated_actions",
            {
                "name": "faithfulness_judge",
                "judge_url": model_server.openai_base_url,
                "judge_model": "gpt-4o-mini-judge",
            },
        ],
        "trace_window": _window(),
    }
    reader = InMemoryMetricReader()
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        service = _service(tmp_path, forward, evaluation, MeterProvider(metric_readers=[reader]))
        with service:
            exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.port}", insecure=True)
            exporter.export(app_spans)  # the instrumented apps' real spans, over OTLP/gRPC
            exporter.shutdown()
            wait_until(lambda: len(downstream.spans()) == len(app_spans))
            wait_until(lambda: _metric_points(reader, "genai_otel.evaluation.traces"), timeout=10)
        events = downstream.logs()  # stop() judged, drained and flushed
    received = {span.span_id: span for _, span in downstream.spans()}
    assert len(received) == len(app_spans)  # every span forwarded, judged or not
    results: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for event in events:
        assert event.event_name == sc.EVENT_GEN_AI_EVALUATION_RESULT
        span = received[event.span_id]  # tied to a span that went downstream ...
        assert event.trace_id == span.trace_id  # ... in its trace
        attributes = _attributes(event)
        results.setdefault(attributes[sc.GEN_AI_EVALUATION_NAME], []).append((span, attributes))

    [(rag_chat, grounded)] = results["groundedness"]  # the RAG answer (the agent's retrieved nothing)
    assert rag_chat.name == "chat gpt-4o-mini" and grounded[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "grounded"
    judged = [a for _, a in results["faithfulness_judge"]]
    assert judged and all(a[sc.GEN_AI_EVALUATION_SCORE_LABEL] in ("faithful", "unfaithful") for a in judged)
    assert all(0.0 <= a[sc.GEN_AI_EVALUATION_SCORE_VALUE] <= 1.0 for a in judged)  # a parsed verdict
    validity = results["tool_call_validity"]
    assert {s.name for s, _ in validity} >= {"execute_tool get_weather"}
    assert all(a[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "valid" for _, a in validity)
    assert [a[sc.GEN_AI_EVALUATION_SCORE_LABEL] for _, a in results["repeated_actions"]] == ["ok"]
    assert all(sc.ERROR_TYPE not in a for rows in results.values() for _, a in rows)

    scores = _metric_points(reader, "genai_otel.evaluation.score")
    names = {dict(p.attributes)[sc.GEN_AI_EVALUATION_NAME] for p in scores}
    assert {"groundedness", "faithfulness_judge", "tool_call_validity"} <= names
    assert any(dict(p.attributes).get(sc.GEN_AI_REQUEST_MODEL) == "gpt-4o-mini" for p in scores)
    assert any(dict(p.attributes).get(sc.GEN_AI_AGENT_NAME) == "weather_agent" for p in scores)
    traces = {dict(p.attributes)[sc.GENAI_OTEL_EVALUATION_CLOSED_BY]: p.value for p in
              _metric_points(reader, "genai_otel.evaluation.traces")}  # fmt: skip
    assert traces == {"idle": 2}  # both traces judged once, whole, when they went quiet


def test_per_span_evaluators_keep_working_next_to_trace_evaluators(tmp_path):
    refused = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "I can't do that."}]}])
    config = {
        "operations": ["chat"],
        "evaluators": ["refusal", "json_validity"],
        "trace_window": _window(0.1),
    }
    request = _request([_span(1, 1, output=refused)])
    with OtlpReceiver() as downstream:
        with _service(tmp_path, downstream.endpoint.removeprefix("http://"), config) as service:
            _send(service, request)
            wait_until(lambda: len(downstream.spans()) == 1)
        names = sorted(_attributes(e)[sc.GEN_AI_EVALUATION_NAME] for e in downstream.logs())
    assert names == ["refusal"]  # per-span refusal judged; json_validity does not apply (no JSON output)


# -- sampling and budgets ---------------------------------------------------------------------------------


def _span(
    trace: int, span: int, parent: int = 0, output: str = ANSWER, error: bool = False, **attributes: Any
) -> Span:
    attributes = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_OUTPUT_MESSAGES: output, **attributes}
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name="chat m",
        attributes=[sc_kv(k, v) for k, v in attributes.items()],
        start_time_unix_nano=span,
        end_time_unix_nano=span + 1,
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def sc_kv(key: str, value: Any) -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    return KeyValue(key=key, value=any_value(value))


def _request(spans: list[Span]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def _send(service: Any, request: ExportTraceServiceRequest) -> None:
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        channel.unary_unary(EXPORT_METHOD)(request.SerializeToString(), timeout=30)


def test_one_in_n_traces_are_judged_whole_and_errored_spans_always(tmp_path):
    config = {
        "evaluators": ["answer_relevance", "pii"],
        "trace_window": _window(0.2),
        "sampling": {"one_in_traces": 4},
    }
    spans = []
    for trace in range(1, 41):  # 40 traces of 3 answers each; the last answer of each trace failed
        spans += [_span(trace, trace * 10 + i, error=i == 2) for i in range(3)]
    reader = InMemoryMetricReader()
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with _service(tmp_path, forward, config, MeterProvider(metric_readers=[reader])) as service:
            _send(service, _request(spans))
            wait_until(lambda: len(downstream.spans()) == 120)
        events = downstream.logs()
    judged: dict[bytes, set[bytes]] = {}
    for event in events:
        judged.setdefault(event.trace_id, set()).add(event.span_id)
    chosen = {t for t in range(1, 41) if trace_chosen(t.to_bytes(16, "big").hex(), 4)}
    assert 3 <= len(chosen) <= 20  # about a quarter
    for trace in range(1, 41):
        ids = judged.get(trace.to_bytes(16, "big"), set())
        if trace in chosen:  # every span of a chosen trace
            assert len(ids) == 3
        else:  # only its errored span
            assert ids == {(trace * 10 + 2).to_bytes(8, "big")}
    skipped = {
        dict(p.attributes)[sc.GENAI_OTEL_EVALUATION_SKIP_REASON]: p.value
        for p in _metric_points(reader, "genai_otel.evaluation.skipped")
        if dict(p.attributes)[sc.GEN_AI_EVALUATION_NAME] == "pii"
    }
    assert skipped == {"trace_sampled_out": 2 * (40 - len(chosen))}
    assert trace_chosen("ab" * 16, 4) == trace_chosen("ab" * 16, 4)  # the same answer everywhere


def _runner(evaluators: list[Any], **kwargs: Any) -> tuple[EvaluationRunner, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return EvaluationRunner([], provider, trace_evaluators=evaluators, **kwargs), exporter


def _views(trace: str, count: int, **attributes: Any) -> list[SpanView]:
    attributes = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_OUTPUT_MESSAGES: ANSWER, **attributes}
    return [SpanView("chat m", f"{i + 1:016x}", None, dict(attributes), i, i + 1) for i in range(count)]


class Counting:
    """A trace evaluator that judges every chat span (and may raise)."""

    name = "counting"

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.calls = fail, 0

    def applies_to(self, span: SpanView) -> bool:
        return span.operation == "chat"

    def evaluate(self, span: SpanView, trace: Any, expectation: Any = None) -> EvaluationResult:
        self.calls += 1
        if self.fail:
            raise RuntimeError("evaluator bug")
        return EvaluationResult(self.name, 1.0, "ok")


def test_the_hourly_budget_caps_evaluations_and_refills():
    now = [0.0]
    sampling = EvaluationSampling(max_per_hour=5, clock=lambda: now[0])
    evaluator = Counting()
    runner, _logs = _runner([evaluator], sampling=sampling, window=TraceWindowSettings(idle_seconds=60))
    runner.add_spans("a" * 32, _views("a", 8))
    runner.flush_traces()
    assert runner.drain(10)
    assert evaluator.calls == 5 and runner.metrics.skipped == {"budget": 3}
    now[0] += 720  # a fifth of an hour: one more
    runner.add_spans("b" * 32, _views("b", 3))
    runner.flush_traces()
    assert runner.drain(10)
    assert evaluator.calls == 6 and runner.metrics.skipped == {"budget": 5}
    runner.shutdown()
    bucket = TokenBucket(2, clock=lambda: 0.0)
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_sampling_filters_by_operation_model_agent_cost_and_ratio():
    sampling = EvaluationSampling(
        operations=frozenset({"chat"}),
        models=frozenset({"gpt-4o"}),
        agents=frozenset({"support"}),
        min_cost=0.01,
    )

    def view(error: bool = False, **attributes: Any) -> SpanView:
        base = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_AGENT_NAME: "support",
            sc.GENAI_OTEL_USAGE_COST: 0.02,
        }
        return SpanView("s", "01" * 8, None, {**base, **attributes}, status_error=error)

    assert sampling.choose(view(), "t") == ""
    assert sampling.choose(view(**{sc.GEN_AI_OPERATION_NAME: "embeddings"}), "t") == "operation"
    assert sampling.choose(view(**{sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}), "t") == "model"
    assert sampling.choose(view(**{sc.GEN_AI_AGENT_NAME: "other"}), "t") == "agent"
    assert sampling.choose(view(**{sc.GENAI_OTEL_USAGE_COST: 0.001}), "t") == "cost"
    assert sampling.choose(view(error=True, **{sc.GEN_AI_REQUEST_MODEL: "x"}), "t") == ""  # errors always
    assert sampling.choose(view(**{sc.GENAI_OTEL_USAGE_COST: ["garbage"]}), "t") == ""  # no usable cost
    draws = iter([0.1, 0.9])
    ratio = EvaluationSampling(ratio=0.5, random=lambda: next(draws))
    assert [ratio.choose(view(), "t"), ratio.choose(view(), "t")] == ["", "ratio"]
    with pytest.raises(ConfigError, match="sampling"):
        from_dict({"evaluation": {"evaluators": ["pii"], "sampling": {"one_in_traces": 0}}})
    with pytest.raises(ConfigError, match="needs judge_url"):
        from_dict({"evaluation": {"evaluators": ["faithfulness_judge"]}})
    with pytest.raises(ConfigError, match="unknown evaluator"):
        from_dict({"evaluation": {"evaluators": ["nonsense"]}})
    with pytest.raises(ConfigError, match="trace_window"):
        from_dict({"evaluation": {"evaluators": ["pii"], "trace_window": {"idle": 1}}})


# -- the trace window's bounds ---------------------------------------------------------------------------


def test_the_window_judges_the_oldest_trace_early_beyond_max_traces_and_caps_spans_per_trace():
    evaluator = Counting()
    settings = TraceWindowSettings(idle_seconds=60, max_traces=3, max_spans_per_trace=10)
    runner, logs = _runner([evaluator], window=settings)
    for trace in range(5):
        runner.add_spans(f"{trace + 1:032x}", _views(str(trace), 2))
    assert runner.drain(10)
    assert evaluator.calls == 4 and len(runner.window) == 3  # traces 1 and 2 judged early to make room
    judged = {f"{r.log_record.trace_id:032x}" for r in logs.get_finished_logs()}
    assert judged == {f"{1:032x}", f"{2:032x}"}
    runner.add_spans("f" * 32, _views("f", 15))  # 5 spans over the cap: not kept, their evaluations counted
    runner.shutdown()  # judges what is open
    assert evaluator.calls == 4 + 3 * 2 + 10
    assert runner.metrics.skipped == {"span_limit": 5}


def test_the_window_closes_idle_traces_and_traces_past_their_max_age():
    now = [0.0]
    window = TraceWindow(TraceWindowSettings(idle_seconds=10, max_age_seconds=25), clock=lambda: now[0])
    window.add("a", _views("a", 1))
    window.add("b", _views("b", 1))
    for _ in range(4):  # "b" stays busy: a span every 8 s
        now[0] += 8
        window.add("b", _views("b", 1))
        closed = window.expire()
        if closed:
            break
    assert [(v.trace_id, reason) for v, reason in closed] == [("a", "idle")]
    while not (closed := window.expire()):
        now[0] += 8
        window.add("b", _views("b", 1))
    assert [(v.trace_id, reason) for v, reason in closed] == [("b", "max_age")]
    assert len(window) == 0


def test_judging_never_blocks_ingestion_when_the_pool_is_behind(tmp_path):
    release = threading.Event()

    class Stuck(Counting):
        def evaluate(self, span: SpanView, trace: Any, expectation: Any = None) -> EvaluationResult:
            release.wait(30)  # the evaluator does not finish until the test lets it
            return super().evaluate(span, trace)

    runner, _logs = _runner(
        [Stuck()], workers=1, max_pending=1, window=TraceWindowSettings(idle_seconds=60, max_traces=1)
    )

    def ingest() -> None:
        for trace in range(20):  # each add closes the previous trace: one judged, the rest behind
            runner.add_spans(f"{trace + 1:032x}", _views(str(trace), 1))

    feeder = threading.Thread(target=ingest)
    feeder.start()
    feeder.join(20)
    try:
        assert not feeder.is_alive(), "ingestion waited for a stuck evaluation"
        assert runner.metrics.skipped["behind"] >= 18
    finally:
        release.set()
        runner.shutdown()


# -- hostile ----------------------------------------------------------------------------------------------


def test_a_trace_of_100k_spans_is_forwarded_whole_and_judged_in_bounded_memory(tmp_path):
    config = {
        "evaluators": ["pii"],
        "trace_window": _window(30, max_spans_per_trace=1000),  # judged once, at stop
    }
    reader = InMemoryMetricReader()
    total = 100_000
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with _service(tmp_path, forward, config, MeterProvider(metric_readers=[reader])) as service:
            tracemalloc.start()
            for first in range(0, total, 10_000):
                _send(service, _request([_span(7, first + i + 1) for i in range(10_000)]))
            held = max(len(v.view.spans) for v in service.evaluation.window._by_last_seen.values())
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            wait_until(lambda: len(downstream.spans()) == total, timeout=120)
        events = downstream.logs()
    assert held == 1000  # the window kept its cap
    assert peak < 200 << 20
    assert len(events) == 1000
    skipped = {
        dict(p.attributes)[sc.GENAI_OTEL_EVALUATION_SKIP_REASON]: p.value
        for p in _metric_points(reader, "genai_otel.evaluation.skipped")
    }
    assert skipped == {"span_limit": total - 1000}


def test_garbage_attributes_and_a_raising_evaluator_never_stop_the_service(tmp_path):
    garbage = [
        _span(1, 1, output="{not json"),
        _span(1, 2, output=json.dumps([[[[["deep"]]]]])),
        _span(1, 3, output=json.dumps({"parts": 5}), **{sc.GEN_AI_REQUEST_MODEL: 42}),
        _span(1, 4, output="[" * 5000 + "]" * 5000, **{sc.GEN_AI_AGENT_NAME: ["a", "b"]}),
        _span(1, 5, parent=99, **{sc.GEN_AI_TOOL_DEFINITIONS: "\x00\xff"}),
    ]
    config = {
        "evaluators": ["groundedness", "answer_relevance", "tool_call_validity", "pii", "json_validity"],
        "trace_window": _window(0.1),
    }
    reader = InMemoryMetricReader()
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with _service(tmp_path, forward, config, MeterProvider(metric_readers=[reader])) as service:
            failing = Counting(fail=True)
            service.evaluation.trace_evaluators.append(failing)
            _send(service, _request(garbage))
            wait_until(lambda: len(downstream.spans()) == 5)
            _send(service, _request([_span(2, 1)]))  # still serving
            wait_until(lambda: len(downstream.spans()) == 6)
        events = [_attributes(e) for e in downstream.logs()]
    errors = [e for e in events if e.get(sc.ERROR_TYPE)]
    assert failing.calls == 6 and len(errors) == 6  # the raising evaluator: one error row per span
    assert all(
        e[sc.ERROR_TYPE] == "RuntimeError" and e[sc.GEN_AI_EVALUATION_NAME] == "counting" for e in errors
    )
    others = [e for e in events if not e.get(sc.ERROR_TYPE)]
    assert any(e[sc.GEN_AI_EVALUATION_NAME] == "pii" for e in others)  # the others still judged
    for point in _metric_points(reader, "genai_otel.evaluation.score"):
        assert all(isinstance(v, str) for v in dict(point.attributes).values())  # no garbage attribute


# -- in-process --------------------------------------------------------------------------------------------


@CAPTURE
def test_the_span_processor_judges_whole_traces_in_process(otel, openai_client):
    from genai_otel.evaluation.agents import RepeatedActions, ToolCallValidity

    _agent_run(openai_client)
    _agent_run(openai_client, name="second_agent")
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    reader = InMemoryMetricReader()
    processor = EvaluatingSpanProcessor(
        [ToolCallValidity(), RepeatedActions()],
        logger_provider=logger_provider,
        window=TraceWindowSettings(idle_seconds=60),
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    for span in otel.spans():  # as the SDK hands them over, in end order, two traces interleaved
        processor.on_end(span)
    assert len(processor.runner.window) == 2 and not exporter.get_finished_logs()  # held until closed
    assert processor.force_flush(10_000)
    records = [r.log_record for r in exporter.get_finished_logs()]
    spans = {s.context.span_id: s for s in otel.spans()}
    labels = {}
    for record in records:
        span = spans[record.span_id]
        assert span.context.trace_id == record.trace_id
        labels.setdefault(record.attributes[sc.GEN_AI_EVALUATION_NAME], []).append(
            (span.name, record.attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL])
        )
    assert sorted(labels["repeated_actions"]) == [("invoke_agent second_agent", "ok"),
                                                  ("invoke_agent weather_agent", "ok")]  # fmt: skip
    assert {label for _, label in labels["tool_call_validity"]} == {"valid"}
    agents = {
        dict(p.attributes).get(sc.GEN_AI_AGENT_NAME)
        for p in _metric_points(reader, "genai_otel.evaluation.score")
    }
    assert {"weather_agent", "second_agent"} <= agents
    processor.shutdown()
