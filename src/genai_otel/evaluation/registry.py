"""Evaluators by name, for ``genai-otel evaluate --evaluators a,b`` and configuration files.

``EVALUATORS`` maps a name to a factory taking an :class:`EvaluatorConfig` (what an evaluator may need
from its runner: a judge client today). A factory raises :class:`JudgeRequired` when it needs a judge and
none is configured; the offline runner then leaves it out unless it was asked for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genai_otel.evaluation.api import TraceEvaluator
from genai_otel.evaluation.deterministic import DETERMINISTIC
from genai_otel.evaluation.judge import (
    AnswerRelevanceJudge,
    FaithfulnessJudge,
    HandoffJudge,
    JudgeClient,
    TaskCompletionJudge,
)


@dataclass(frozen=True)
class EvaluatorConfig:
    """What the runner offers the evaluators it builds."""

    judge: JudgeClient | None = None


class JudgeRequired(ValueError):
    """The evaluator is an LLM judge and no judge endpoint is configured."""


Factory = Callable[[EvaluatorConfig], TraceEvaluator]


def _judged(evaluator: Callable[[JudgeClient], TraceEvaluator]) -> Factory:
    def make(config: EvaluatorConfig) -> TraceEvaluator:
        if config.judge is None:
            raise JudgeRequired("needs a judge endpoint (--judge-url and --judge-model)")
        return evaluator(config.judge)

    return make


def _plain(evaluator: Callable[[], TraceEvaluator]) -> Factory:
    return lambda config: evaluator()


EVALUATORS: dict[str, Factory] = {
    **{name: _plain(evaluator) for name, evaluator in DETERMINISTIC.items()},
    "faithfulness_judge": _judged(FaithfulnessJudge),
    "answer_relevance_judge": _judged(AnswerRelevanceJudge),
    "task_completion_judge": _judged(TaskCompletionJudge),
    "handoff_correctness_judge": _judged(HandoffJudge),
}


def available() -> dict[str, Factory]:
    """Every registered evaluator factory by name."""
    return dict(EVALUATORS)
