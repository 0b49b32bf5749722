"""A result as the ``gen_ai.evaluation.result`` event: one place for its attributes, whoever emits it (the
processor's runner, ``genai-otel evaluate``, the demo)."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from genai_otel import semconv
from genai_otel.evaluation.api import EvaluationResult


def evaluated_span_context(trace_id: str, span_id: str) -> Any:
    """The context of the evaluated span (hex ids): the event is tied to that span."""
    span = NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), True, TraceFlags(1)))
    return set_span_in_context(span)


def emit_result(
    logger: Any,
    result: EvaluationResult,
    context: Any,
    *,
    response_id: Any = None,
    error: str | None = None,
) -> None:
    """Emit ``result`` through ``logger`` (an OTel Logger) in ``context`` (the evaluated span's); unset
    fields are left out; ``response_id`` ties it to the response when the span is gone."""
    fields = {
        semconv.GEN_AI_EVALUATION_NAME: result.name,
        semconv.GEN_AI_EVALUATION_SCORE_VALUE: result.score,
        semconv.GEN_AI_EVALUATION_SCORE_LABEL: result.label,
        semconv.GEN_AI_EVALUATION_EXPLANATION: result.explanation,
        semconv.GEN_AI_RESPONSE_ID: response_id if isinstance(response_id, str) else None,
        semconv.ERROR_TYPE: error,
    }
    logger.emit(
        event_name=semconv.EVENT_GEN_AI_EVALUATION_RESULT,
        attributes={key: value for key, value in fields.items() if value is not None},
        context=context,
    )
