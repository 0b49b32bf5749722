"""Evaluation hooks: evaluators run on chosen finished spans, off the hot path, and their results are
emitted as ``gen_ai.evaluation.result`` events tied to the evaluated span.

    processor = EvaluatingSpanProcessor([RefusalEvaluator(), JsonOutputEvaluator(),
                                         LLMJudge(base_url="http://judge:8000/v1", model="gpt-4o-mini")])
    tracer_provider.add_span_processor(processor)

Evaluators see the span's attributes (content only exists there under content capture). They run in a
small thread pool with a bounded queue: when it is full, evaluations are skipped (and counted), never
slowing the application.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import BoundedSemaphore
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import get_logger
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from genai_otel import semconv
from genai_otel.evaluation.api import EvaluationResult
from genai_otel.safety import safely
from genai_otel.version import __version__

_logger = logging.getLogger("genai_otel.evaluation")
EVENT = semconv.EVENT_GEN_AI_EVALUATION_RESULT


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


class EvaluationRunner:
    """Runs evaluators in a small thread pool with a bounded queue and emits each result as a
    ``gen_ai.evaluation.result`` event in the evaluated span's context. When the queue is full the
    evaluation is skipped (and counted): whoever submits is never slowed down."""

    def __init__(
        self,
        evaluators: Sequence[Evaluator],
        logger_provider: Any = None,
        workers: int = 2,
        max_pending: int = 1000,
    ) -> None:
        self.evaluators = list(evaluators)
        self.events = get_logger(
            "genai_otel.evaluation",
            __version__,
            logger_provider=logger_provider,
            schema_url=semconv.SCHEMA_URL,
        )
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genai-otel-eval")
        self.slots = BoundedSemaphore(max_pending)
        self.skipped = 0

    def submit(self, attributes: dict[str, Any], span_context: trace.SpanContext) -> None:
        if not self.slots.acquire(blocking=False):
            self.skipped += 1
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

    def _emit(
        self, result: EvaluationResult, context: Any, error: str | None, attributes: dict[str, Any]
    ) -> None:
        fields = {
            semconv.GEN_AI_EVALUATION_NAME: result.name,
            semconv.GEN_AI_EVALUATION_SCORE_VALUE: result.score,
            semconv.GEN_AI_EVALUATION_SCORE_LABEL: result.label,
            semconv.GEN_AI_EVALUATION_EXPLANATION: result.explanation,
            semconv.GEN_AI_RESPONSE_ID: attributes.get(semconv.GEN_AI_RESPONSE_ID),
            semconv.ERROR_TYPE: error,
        }
        self.events.emit(
            event_name=EVENT, attributes={k: v for k, v in fields.items() if v is not None}, context=context
        )

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

    def drain(self, timeout_seconds: float) -> bool:
        """Wait until no evaluation holds a slot."""
        import time

        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.slots._value == self.slots._initial_value:  # type: ignore[attr-defined]
                return True
            time.sleep(0.01)
        return False


def has_output(attributes: dict[str, Any]) -> bool:
    """The default selection: spans whose output was captured (evaluators need content)."""
    return bool(attributes.get(semconv.GEN_AI_OUTPUT_MESSAGES))


class EvaluatingSpanProcessor(SpanProcessor):
    """Runs evaluators on finished GenAI spans (``select`` chooses which) in a thread pool."""

    def __init__(
        self,
        evaluators: Sequence[Evaluator],
        *,
        select: Callable[[ReadableSpan], bool] | None = None,
        logger_provider: Any = None,
        workers: int = 2,
        max_pending: int = 1000,
    ) -> None:
        self.runner = EvaluationRunner(evaluators, logger_provider, workers, max_pending)
        self.select = select or (lambda span: has_output(span.attributes or {}))

    @property
    def skipped(self) -> int:
        return self.runner.skipped

    def on_end(self, span: ReadableSpan) -> None:
        if safely("evaluation.select", self.select, span):
            self.runner.submit(dict(span.attributes or {}), span.context)

    def shutdown(self) -> None:
        self.runner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.runner.drain(timeout_millis / 1000)
