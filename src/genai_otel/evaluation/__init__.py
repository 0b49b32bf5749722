"""Trace-aware evaluation of GenAI spans (see :mod:`genai_otel.evaluation.api`)."""

from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceEvaluator, TraceView

__all__ = ["EvaluationResult", "Expectation", "SpanView", "TraceEvaluator", "TraceView"]
