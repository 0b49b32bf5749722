"""The evaluators that need no model, by name (for the evaluator registry and ``calibrate``)."""

from __future__ import annotations

from collections.abc import Callable

from genai_otel.evaluation.agents import HandoffCorrectness, RepeatedActions, ToolCallValidity
from genai_otel.evaluation.api import TraceEvaluator
from genai_otel.evaluation.checks import JsonValidity, PersonalData, PolicyTerms, Refusal
from genai_otel.evaluation.rag import AnswerRelevance, ContextRelevance, Groundedness, RetrievalHitRate

DETERMINISTIC: dict[str, Callable[[], TraceEvaluator]] = {
    "groundedness": Groundedness,
    "context_relevance": ContextRelevance,
    "answer_relevance": AnswerRelevance,
    "retrieval_hit_rate": RetrievalHitRate,
    "tool_call_validity": ToolCallValidity,
    "repeated_actions": RepeatedActions,
    "handoff_correctness": HandoffCorrectness,
    "refusal": Refusal,
    "json_validity": JsonValidity,
    "pii": PersonalData,
    "policy_terms": PolicyTerms,
}


def deterministic_evaluators() -> list[TraceEvaluator]:
    """One of each deterministic evaluator, default settings."""
    return [make() for make in DETERMINISTIC.values()]
