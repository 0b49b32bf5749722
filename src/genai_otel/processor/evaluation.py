"""Evaluation hooks: evaluators run on chosen finished spans, off the hot path, and their results are
emitted as ``gen_ai.evaluation.result`` events tied to the evaluated span.

    processor = EvaluatingSpanProcessor([RefusalEvaluator(), JsonOutputEvaluator(),
                                         LLMJudge(base_url="http://judge:8000/v1", model="gpt-4o-mini")])
    tracer_provider.add_span_processor(processor)

Per-span evaluators see the span's attributes (content only exists there under content capture).
Trace evaluators (:mod:`genai_otel.evaluation`: groundedness, tool-call validity, LLM judges, ...) judge a
span with the rest of its trace: spans are held per trace id in a bounded :class:`TraceWindow` until the
trace goes quiet (or grows too old, or room is needed), then judged as sampling chooses
(:mod:`genai_otel.processor.evaluation_sampling`) -- in-process (:class:`EvaluatingSpanProcessor`) and in
the processor service alike. Everything runs in a
small thread pool with a bounded queue: when it is full, evaluations are skipped (and counted), never
slowing the application. Scores and skips are metrics too (:class:`EvaluationMetrics`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import BoundedSemaphore
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import get_logger
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from genai_otel import semconv
from genai_otel.evaluation.api import EvaluationResult, SpanView, TraceEvaluator, TraceView
from genai_otel.evaluation.convert import span_view
from genai_otel.evaluation.events import emit_result
from genai_otel.processor.evaluation_sampling import JUDGE, SKIP_BUDGET, EvaluationSampling
from genai_otel.safety import safely
from genai_otel.version import __version__

_logger = logging.getLogger("genai_otel.evaluation")


def _output_text(attributes: dict[str, Any]) -> str | None:
    raw = attributes.get(semconv.GEN_AI_OUTPUT_MESSAGES)
    try:
        messages = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not messages:
        return None
    return "".join(
        p.get("content") or "" for m in messages for p in m.get("parts", []) if p.get("type") == "text"
    )


def _input_text(attributes: dict[str, Any]) -> str:
    try:
        messages = json.loads(attributes.get(semconv.GEN_AI_INPUT_MESSAGES) or "[]")
    except ValueError:
        return ""
    return "\n".join(
        p.get("content") or "" for m in messages for p in m.get("parts", []) if p.get("type") == "text"
    )


class RefusalEvaluator:
    """Heuristic: did the model refuse? score 1.0 = refused."""

    name = "refusal"
    _PATTERN = re.compile(r"\b(I can(?:no|')t|I am unable|I'm unable|I won't|as an AI)\b", re.IGNORECASE)

    def evaluate(self, attributes: dict[str, Any]) -> EvaluationResult | None:
        text = _output_text(attributes)
        if text is None:
            return None
        refused = bool(self._PATTERN.search(text))
        return EvaluationResult(self.name, 1.0 if refused else 0.0, "refused" if refused else "answered")


class JsonOutputEvaluator:
    """Heuristic: when JSON output was requested, is the answer valid JSON? score 1.0 = valid."""

    name = "json_output"

    def evaluate(self, attributes: dict[str, Any]) -> EvaluationResult | None:
        if attributes.get(semconv.GEN_AI_OUTPUT_TYPE) != "json":
            return None
        text = _output_text(attributes)
        if text is None:
            return None
        try:
            json.loads(text)
        except ValueError as error:
            return EvaluationResult(self.name, 0.0, "invalid", str(error)[:200])
        return EvaluationResult(self.name, 1.0, "valid")


class LLMJudge:
    """LLM-as-a-judge of a span's answer through any OpenAI-compatible chat endpoint: how relevant is it to
    the question (the ``answer_relevance`` rubric of :mod:`genai_otel.evaluation.judge`: score 0-1, label
    ``relevant`` / ``irrelevant``, structured output, retries, never traced into the evaluated trace). A
    reply that is no verdict gives label ``unparsed`` and no score."""

    name = "relevance"

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 30.0) -> None:
        from genai_otel.evaluation.judge import JudgeClient, load_rubric

        self.client = JudgeClient(base_url, model, api_key=api_key, timeout=timeout)
        self.rubric = load_rubric("answer_relevance")

    def evaluate(self, attributes: dict[str, Any]) -> EvaluationResult | None:
        answer, question = _output_text(attributes), _input_text(attributes)
        if not answer or not question:
            return None
        return self.client.judge(self.name, self.rubric, question=question, answer=answer)


Evaluator = Any  # anything with ``name`` and ``evaluate(attributes) -> EvaluationResult | None``


def is_trace_evaluator(evaluator: Any) -> bool:
    """A :class:`~genai_otel.evaluation.api.TraceEvaluator` (judges a span with its whole trace) rather than
    a per-span evaluator of attributes."""
    return callable(getattr(evaluator, "applies_to", None))


@dataclass(frozen=True)
class TraceWindowSettings:
    """How long and how much the trace window holds: a trace is judged once no span of it arrived for
    ``idle_seconds``, or ``max_age_seconds`` after its first span; beyond ``max_traces`` open traces the
    one idle longest is judged early; spans past ``max_spans_per_trace`` are not kept (counted)."""

    idle_seconds: float = 30.0
    max_age_seconds: float = 300.0
    max_traces: int = 10_000
    max_spans_per_trace: int = 5_000


@dataclass
class _OpenTrace:
    view: TraceView
    first_seen: float
    last_seen: float


class TraceWindow:
    """Spans grouped per trace id until the trace is complete enough to judge (thread-safe; memory bounded
    by :class:`TraceWindowSettings`). Open traces are kept in two orders -- last seen and first seen -- so
    finding the idle and the too-old ones costs only the traces that close."""

    def __init__(self, settings: TraceWindowSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._by_last_seen: OrderedDict[str, _OpenTrace] = OrderedDict()
        self._by_first_seen: dict[str, _OpenTrace] = {}  # insertion order is first-seen order
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_last_seen)

    def add(
        self, trace_id: str, spans: Iterable[SpanView]
    ) -> tuple[list[tuple[TraceView, str]], list[SpanView]]:
        """Keep ``spans`` with their trace. Returns the traces closed to make room (``max_traces``) and the
        spans not kept (``max_spans_per_trace``)."""
        now, limit, dropped = self.clock(), self.settings.max_spans_per_trace, []
        with self._lock:
            held = self._by_last_seen.pop(trace_id, None)
            if held is None:
                held = self._by_first_seen[trace_id] = _OpenTrace(TraceView(trace_id), now, now)
            held.last_seen = now
            self._by_last_seen[trace_id] = held
            for span in spans:
                if len(held.view.spans) < limit:
                    held.view.add(span)
                else:
                    dropped.append(span)
            closed = []
            while len(self._by_last_seen) > self.settings.max_traces:
                closed.append((self._close(next(iter(self._by_last_seen))), CLOSED_MAX_TRACES))
        return closed, dropped

    def expire(self) -> list[tuple[TraceView, str]]:
        """Close the traces idle for ``idle_seconds`` and those older than ``max_age_seconds``."""
        now, closed = self.clock(), []
        with self._lock:
            for held_traces, age_of, limit, reason in (
                (self._by_last_seen, lambda t: now - t.last_seen, self.settings.idle_seconds, CLOSED_IDLE),
                (
                    self._by_first_seen,
                    lambda t: now - t.first_seen,
                    self.settings.max_age_seconds,
                    CLOSED_MAX_AGE,
                ),
            ):
                while held_traces:
                    trace_id, oldest = next(iter(held_traces.items()))
                    if age_of(oldest) < limit:
                        break
                    closed.append((self._close(trace_id), reason))
        return closed

    def close_all(self) -> list[tuple[TraceView, str]]:
        with self._lock:
            return [(self._close(trace_id), CLOSED_SHUTDOWN) for trace_id in list(self._by_last_seen)]

    def _close(self, trace_id: str) -> TraceView:
        self._by_first_seen.pop(trace_id, None)
        return self._by_last_seen.pop(trace_id).view


#: Why the window closed a trace (``genai_otel.evaluation.closed_by``).
CLOSED_IDLE, CLOSED_MAX_AGE, CLOSED_MAX_TRACES, CLOSED_SHUTDOWN = "idle", "max_age", "max_traces", "shutdown"
#: Skip reasons of the runner itself (sampling's are in evaluation_sampling).
SKIP_BEHIND, SKIP_SPAN_LIMIT = "behind", "span_limit"


class EvaluationMetrics:
    """The evaluation metrics (``semconv.EVALUATION_METRICS``, from conventions/metrics.yaml): score histogram
    per evaluator, skipped evaluations by reason, traces judged by why they closed. ``skipped`` also keeps
    the counts in memory (tests, the bench, the service's summary)."""

    def __init__(self, meter_provider: Any = None) -> None:
        from opentelemetry.metrics import get_meter

        meter = get_meter(
            "genai_otel.evaluation", __version__, meter_provider=meter_provider, schema_url=semconv.SCHEMA_URL
        )
        instruments = {}
        for spec in semconv.EVALUATION_METRICS:
            key = spec["name"].rsplit(".", 1)[1]
            if spec["instrument"] == "histogram":
                instruments[key] = meter.create_histogram(
                    spec["name"],
                    unit=spec["unit"],
                    description=spec["brief"],
                    explicit_bucket_boundaries_advisory=semconv.EVALUATION_METRIC_BUCKETS[spec["buckets"]],
                )
            else:
                instruments[key] = meter.create_counter(
                    spec["name"], unit=spec["unit"], description=spec["brief"]
                )
        self._score, self._skipped, self._traces = (
            instruments["score"],
            instruments["skipped"],
            instruments["traces"],
        )
        self.skipped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record_score(self, result: EvaluationResult, attributes: dict[str, Any]) -> None:
        if not isinstance(result.score, (int, float)) or isinstance(result.score, bool):
            return
        point = {semconv.GEN_AI_EVALUATION_NAME: result.name}
        if result.label is not None:
            point[semconv.GEN_AI_EVALUATION_SCORE_LABEL] = result.label
        for name in (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_AGENT_NAME):
            value = attributes.get(name)
            if isinstance(value, str):  # garbage attributes (lists, numbers) are no point attribute
                point[name] = value
        self._score.record(float(result.score), point)

    def count_skipped(self, evaluator_name: str, reason: str, count: int = 1) -> None:
        with self._lock:
            self.skipped[reason] += count
        self._skipped.add(
            count,
            {
                semconv.GEN_AI_EVALUATION_NAME: evaluator_name,
                semconv.GENAI_OTEL_EVALUATION_SKIP_REASON: reason,
            },
        )

    def count_trace(self, reason: str) -> None:
        self._traces.add(1, {semconv.GENAI_OTEL_EVALUATION_CLOSED_BY: reason})


def _span_context(trace_id: str, span_id: str) -> Any:
    span_context = trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


class EvaluationRunner:
    """Runs evaluators in a small thread pool with a bounded queue and emits each result as a
    ``gen_ai.evaluation.result`` event in the evaluated span's context. When the queue is full the
    evaluation is skipped (and counted): whoever submits is never slowed down.

    Per-span evaluators (``evaluators``) judge one span's attributes as it is submitted. Trace evaluators
    (``trace_evaluators``) judge spans with their whole trace: :meth:`add_spans` groups spans in a
    :class:`TraceWindow`; a background thread hands each closed trace to the pool, where ``sampling``
    chooses the spans judged and its hourly budget caps the evaluations run."""

    def __init__(
        self,
        evaluators: Sequence[Evaluator],
        logger_provider: Any = None,
        workers: int = 2,
        max_pending: int = 1000,
        *,
        trace_evaluators: Sequence[TraceEvaluator] = (),
        window: TraceWindowSettings | None = None,
        sampling: EvaluationSampling | None = None,
        meter_provider: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.evaluators = list(evaluators)
        self.trace_evaluators = list(trace_evaluators)
        self.sampling = sampling or EvaluationSampling()
        self.events = get_logger(
            "genai_otel.evaluation",
            __version__,
            logger_provider=logger_provider,
            schema_url=semconv.SCHEMA_URL,
        )
        self.metrics = EvaluationMetrics(meter_provider)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genai-otel-eval")
        self.slots = BoundedSemaphore(max_pending)
        self.skipped = 0
        self.window = TraceWindow(window or TraceWindowSettings(), clock) if self.trace_evaluators else None
        self._stopped = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._sweeper_lock = threading.Lock()

    # -- per-span evaluators ----------------------------------------------------------------------------

    def submit(self, attributes: dict[str, Any], span_context: trace.SpanContext) -> None:
        if not self.evaluators:
            return
        if not self.slots.acquire(blocking=False):
            self.skipped += 1
            for evaluator in self.evaluators:
                self.metrics.count_skipped(getattr(evaluator, "name", "unknown"), SKIP_BEHIND)
            return
        context = trace.set_span_in_context(trace.NonRecordingSpan(span_context))
        future = self.pool.submit(self._evaluate, attributes, context)
        future.add_done_callback(lambda _f: self.slots.release())

    def _evaluate(self, attributes: dict[str, Any], context: Any) -> None:
        for evaluator in self.evaluators:
            try:
                result = evaluator.evaluate(attributes)
            except Exception as error:
                _logger.info("evaluator %s failed: %s", getattr(evaluator, "name", evaluator), error)
                self._emit(
                    EvaluationResult(getattr(evaluator, "name", "unknown")),
                    context,
                    type(error).__name__,
                    attributes,
                )
                continue
            if result is not None:
                self._emit(result, context, None, attributes)

    # -- trace evaluators -------------------------------------------------------------------------------

    def add_spans(self, trace_id: str, spans: Sequence[SpanView]) -> None:
        """Hold ``spans`` (hex ``trace_id``) in the trace window until their trace closes. Never blocks on
        evaluation: at most a short lock; traces closed to make room go to the pool or are skipped."""
        if self.window is None or not spans:
            return
        self._start_sweeper()
        closed, dropped = self.window.add(trace_id, spans)
        for span in dropped:
            self._count_skipped_span(span, SKIP_SPAN_LIMIT)
        for view, reason in closed:
            self._submit_trace(view, reason)

    def _start_sweeper(self) -> None:
        if self._sweeper is not None:
            return
        with self._sweeper_lock:
            if self._sweeper is None and not self._stopped.is_set():
                self._sweeper = threading.Thread(
                    target=self._sweep, name="genai-otel-eval-window", daemon=True
                )
                self._sweeper.start()

    def _sweep(self) -> None:
        assert self.window is not None
        settings = self.window.settings
        tick = min(max(min(settings.idle_seconds, settings.max_age_seconds) / 4, 0.05), 1.0)
        while not self._stopped.wait(tick):
            for view, reason in safely("evaluation.trace_window", self.window.expire, default=[]) or ():
                self._submit_trace(view, reason)

    def _submit_trace(self, view: TraceView, reason: str) -> None:
        self.metrics.count_trace(reason)
        if not self.slots.acquire(blocking=False):
            self.skipped += 1
            for span in view.spans:
                self._count_skipped_span(span, SKIP_BEHIND)
            return
        future = self.pool.submit(safely, "evaluation.judge_trace", self._judge_trace, view)
        future.add_done_callback(lambda _f: self.slots.release())

    def _applicable(self, span: SpanView) -> list[TraceEvaluator]:
        return [
            e for e in self.trace_evaluators if safely(f"evaluator {e.name}.applies_to", e.applies_to, span)
        ]

    def _count_skipped_span(self, span: SpanView, reason: str) -> None:
        for evaluator in self._applicable(span):
            self.metrics.count_skipped(evaluator.name, reason)

    def _judge_trace(self, view: TraceView) -> None:
        for span in view.spans:
            applicable = self._applicable(span)
            if not applicable:
                continue
            decision = self.sampling.choose(span, view.trace_id)
            context = None
            for evaluator in applicable:
                if decision != JUDGE or not self.sampling.take_budget():
                    self.metrics.count_skipped(evaluator.name, decision or SKIP_BUDGET)
                    continue
                context = context or _span_context(view.trace_id, span.span_id)
                try:
                    result = evaluator.evaluate(span, view)
                except Exception as error:  # the evaluator's bug is one error row, not a lost trace
                    _logger.info("evaluator %s failed: %s", evaluator.name, error)
                    self._emit(
                        EvaluationResult(evaluator.name), context, type(error).__name__, span.attributes
                    )
                    continue
                if result is not None:
                    self._emit(result, context, None, span.attributes)

    # -- results ----------------------------------------------------------------------------------------

    def _emit(
        self, result: EvaluationResult, context: Any, error: str | None, attributes: dict[str, Any]
    ) -> None:
        response_id = attributes.get(semconv.GEN_AI_RESPONSE_ID)
        emit_result(self.events, result, context, response_id=response_id, error=error)
        self.metrics.record_score(result, attributes)

    def flush_traces(self) -> None:
        """Judge every trace still open now (shutdown, a flush): partial traces are judged as they are."""
        if self.window is not None:
            for view, reason in self.window.close_all():
                self._submit_trace(view, reason)

    def shutdown(self) -> None:
        self._stopped.set()
        self.flush_traces()
        self.pool.shutdown(wait=True)

    def drain(self, timeout_seconds: float) -> bool:
        """Wait until no evaluation holds a slot."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.slots._value == self.slots._initial_value:  # type: ignore[attr-defined]
                return True
            time.sleep(0.01)
        return False


def has_output(attributes: dict[str, Any]) -> bool:
    """The default selection: spans whose output was captured (evaluators need content)."""
    return bool(attributes.get(semconv.GEN_AI_OUTPUT_MESSAGES))


def for_window(span: SpanView) -> SpanView:
    """What the trace window keeps of a span: GenAI spans whole (they are judged or are evidence), other
    spans (HTTP, database, framework internals) as their ids and times only, so ancestry still links up."""
    if span.operation is not None:
        return span
    return SpanView(
        span.name, span.span_id, span.parent_id, {}, span.start_ns, span.end_ns, span.status_error
    )


class EvaluatingSpanProcessor(SpanProcessor):
    """Runs evaluators on finished GenAI spans in a thread pool. Per-span evaluators judge the spans
    ``select`` chooses as they end; trace evaluators (:class:`~genai_otel.evaluation.api.TraceEvaluator`,
    e.g. from :mod:`genai_otel.evaluation.registry`) judge spans with their whole trace once it closed in
    the trace window (``window``), as ``sampling`` chooses. ``force_flush`` judges the traces still open."""

    def __init__(
        self,
        evaluators: Sequence[Evaluator],
        *,
        select: Callable[[ReadableSpan], bool] | None = None,
        logger_provider: Any = None,
        workers: int = 2,
        max_pending: int = 1000,
        window: TraceWindowSettings | None = None,
        sampling: EvaluationSampling | None = None,
        meter_provider: Any = None,
    ) -> None:
        self.runner = EvaluationRunner(
            [e for e in evaluators if not is_trace_evaluator(e)],
            logger_provider,
            workers,
            max_pending,
            trace_evaluators=[e for e in evaluators if is_trace_evaluator(e)],
            window=window,
            sampling=sampling,
            meter_provider=meter_provider,
        )
        self.select = select or (lambda span: has_output(span.attributes or {}))

    @property
    def skipped(self) -> int:
        return self.runner.skipped

    def on_end(self, span: ReadableSpan) -> None:
        if self.runner.evaluators and safely("evaluation.select", self.select, span):
            self.runner.submit(dict(span.attributes or {}), span.context)
        if self.runner.window is not None:
            safely("evaluation.trace_window", self._hold, span)

    def _hold(self, span: ReadableSpan) -> None:
        trace_id = trace.format_trace_id(span.context.trace_id)
        self.runner.add_spans(trace_id, [for_window(span_view(span))])

    def shutdown(self) -> None:
        self.runner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.runner.flush_traces()
        return self.runner.drain(timeout_millis / 1000)
