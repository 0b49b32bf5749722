"""Token counters kept as running totals and reported by asynchronous counters (telemetry/metrics.py):
what a backend receives must be exactly what synchronous counters would have given it."""

from __future__ import annotations

import threading

import pytest
from opentelemetry import metrics as metrics_api
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

from genai_otel import semconv as sc
from genai_otel.telemetry.invocation import InferenceInvocation
from genai_otel.telemetry.metrics import MetricRecorder

INPUT = sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS
OUTPUT = sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS


def _call(model: str = "m", input_tokens: int = 10, output_tokens: int = 3) -> InferenceInvocation:
    inv = InferenceInvocation(
        operation="chat", provider="openai", request_model=model, input_tokens=input_tokens
    )
    inv.output_tokens = output_tokens
    return inv


def _record(recorder: MetricRecorder, inv: InferenceInvocation) -> None:
    recorder.record_finished(inv, inv.start_ns + 1_000_000)


def _points(reader: InMemoryMetricReader, name: str) -> dict[str, object]:
    """model -> the data point of metric ``name`` in one collection."""
    data = reader.get_metrics_data()
    found = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    assert getattr(metric.data, "is_monotonic", True)  # a counter's Sum is monotonic
                    for point in metric.data.data_points:
                        found[point.attributes[sc.GEN_AI_REQUEST_MODEL]] = point
    return found


def _totals(reader: InMemoryMetricReader, name: str = INPUT) -> dict[str, int]:
    return {model: point.value for model, point in _points(reader, name).items()}


def test_counters_report_the_same_cumulative_sums_as_synchronous_counters():
    reader = InMemoryMetricReader()
    recorder = MetricRecorder(MeterProvider([reader]).get_meter("t"), ("latest",))
    for model, tokens in (("a", 10), ("b", 7), ("a", 5)):
        _record(recorder, _call(model, tokens))
    assert _totals(reader) == {"a": 15, "b": 7}
    assert _totals(reader, OUTPUT) == {"a": 6, "b": 3}
    _record(recorder, _call("b", 1))
    assert _totals(reader) == {"a": 15, "b": 8}  # cumulative: totals since the start


def test_a_delta_reader_receives_what_was_added_since_the_last_collection():
    reader = InMemoryMetricReader(
        preferred_temporality={
            Counter: AggregationTemporality.DELTA,
            ObservableCounter: AggregationTemporality.DELTA,
            Histogram: AggregationTemporality.DELTA,
        }
    )
    recorder = MetricRecorder(MeterProvider([reader]).get_meter("t"), ("latest",))
    _record(recorder, _call("a", 10))
    assert _totals(reader) == {"a": 10}
    _record(recorder, _call("a", 4))
    _record(recorder, _call("a", 1))
    assert _totals(reader) == {"a": 5}


def test_two_recorders_on_one_meter_add_to_the_same_totals():
    """The SDK returns the first asynchronous counter (and its callback) to the second recorder: the
    second one's calls must still be counted, exactly once."""
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader])
    first = MetricRecorder(provider.get_meter("genai_otel"), ("latest",))
    second = MetricRecorder(provider.get_meter("genai_otel"), ("latest",))
    _record(first, _call("a", 10))
    _record(second, _call("a", 3))
    assert _totals(reader) == {"a": 13}


def test_threads_lose_no_count():
    reader = InMemoryMetricReader()
    recorder = MetricRecorder(MeterProvider([reader]).get_meter("t"), ("latest",))

    def calls() -> None:
        for _ in range(2000):
            _record(recorder, _call("a", 1))

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _totals(reader) == {"a": 8000}


def test_attribute_sets_beyond_the_limit_go_to_the_overflow_set():
    from genai_otel.telemetry import metrics

    reader = InMemoryMetricReader()
    recorder = MetricRecorder(MeterProvider([reader]).get_meter("t"), ("latest",))
    for index in range(metrics._MAX_SUMMED_SETS + 5):
        _record(recorder, _call(f"model-{index}", 1))
    data = reader.get_metrics_data()
    [metric] = [
        m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == INPUT
    ]
    overflow = [p for p in metric.data.data_points if p.attributes.get("otel.metric.overflow")]
    assert len(metric.data.data_points) == metrics._MAX_SUMMED_SETS + 1
    assert [p.value for p in overflow] == [5]
    assert sum(p.value for p in metric.data.data_points) == metrics._MAX_SUMMED_SETS + 5


def test_nothing_is_created_or_recorded_without_a_meter_provider():
    recorder = MetricRecorder(NoOpMeterProvider().get_meter("t"), ("latest",))
    _record(recorder, _call())
    assert recorder._plans is None


@pytest.fixture
def unset_global_meter_provider():
    """The API's global provider as in a fresh process (a proxy until one is set), restored after."""
    from opentelemetry.metrics import _internal

    saved = (_internal._METER_PROVIDER, _internal._METER_PROVIDER_SET_ONCE._done)
    _internal._METER_PROVIDER = None
    _internal._METER_PROVIDER_SET_ONCE._done = False
    yield
    _internal._METER_PROVIDER, _internal._METER_PROVIDER_SET_ONCE._done = saved


@pytest.mark.usefixtures("unset_global_meter_provider")
def test_a_meter_provider_set_after_instrumenting_receives_every_later_call():
    """instrument() before the app sets its MeterProvider (a common order): calls before it record
    nothing (there is nowhere to record to), every call after it is counted."""
    recorder = MetricRecorder(metrics_api.get_meter("genai_otel"), ("latest",))
    _record(recorder, _call("a", 10))
    assert recorder._plans is None
    reader = InMemoryMetricReader()
    metrics_api.set_meter_provider(MeterProvider([reader]))
    _record(recorder, _call("a", 4))
    _record(recorder, _call("a", 1))
    assert _totals(reader) == {"a": 5}
    assert [p.count for p in _points(reader, sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION).values()] == [2]


def test_exemplars_point_at_the_model_calls_own_span(otel, openai_client):
    """Histogram points are recorded after the model span ended, in the caller's context: their
    exemplars (the SDK samples them by default) must still name the model span, not the caller's."""
    from opentelemetry import trace

    with trace.get_tracer("app").start_as_current_span("request handler"):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    [chat] = otel.genai_spans()
    [point] = otel.metrics()[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points
    assert point.exemplars, "the SDK's default trace-based filter samples this point"
    assert {exemplar.span_id for exemplar in point.exemplars} == {chat.context.span_id}


@pytest.mark.parametrize("sampled", [True, False])
def test_an_unsampled_call_is_counted_in_full_and_only_a_sampled_one_gets_exemplars(sampled):
    """Metrics never depend on sampling; exemplars do (the SDK's trace-based filter), and name the span."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    reader = InMemoryMetricReader()
    recorder = MetricRecorder(MeterProvider([reader]).get_meter("t"), ("latest",))
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span = NonRecordingSpan(SpanContext(trace_id=7, span_id=11, is_remote=False, trace_flags=flags))
    for tokens in (10, 4):
        inv = _call("a", tokens)
        recorder.record_finished(inv, inv.start_ns + 1_000_000, span)
    data = reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert [p.value for p in metrics[INPUT].data.data_points] == [14]
    [duration] = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points
    assert duration.count == 2
    assert {e.span_id for e in duration.exemplars} == ({11} if sampled else set())
