"""How far to trust each evaluator: scores them against a labelled set kept as package data
(``evaluation/calibration/*.jsonl``) and reports precision, recall and agreement with the labels.

- ``rag.jsonl``: questions, retrieved documents and answers labelled faithful or not (the faithfulness
  aspect: ``groundedness``, ``semantic_groundedness``, ``faithfulness_judge``);
- ``tool_calls.jsonl``: tool calls labelled valid or not against their tool's schema
  (``tool_call_validity``);
- ``outputs.jsonl``: answers labelled as refusals and as holding personal data or secrets (``refusal``,
  ``pii``).

Each row becomes a small trace (a retrieval span and a chat span, as genai-otel records them with content
capture on) that the evaluators judge as they would a real one. The positive class is "the problem is
there" (unfaithful, invalid, refused, personal data): precision is how often a flag is right, recall how
many of the problems are flagged, agreement the share of rows where the verdict matches the label. Rows an
evaluator gave no verdict on (skipped, unparsable judge reply) count in ``judged`` only.

    genai-otel evaluate calibrate [--judge-url URL --judge-model M] [--limit N] [--json table.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from genai_otel import semconv
from genai_otel.evaluation.api import EvaluationResult, SpanView, TraceEvaluator, TraceView
from genai_otel.evaluation.deterministic import DETERMINISTIC

#: Which labelled aspect an evaluator is scored on, by evaluator name.
ASPECTS = {
    "groundedness": "faithfulness",
    "semantic_groundedness": "faithfulness",
    "faithfulness_judge": "faithfulness",
    "tool_call_validity": "tool_call_validity",
    "refusal": "refusal",
    "pii": "pii",
}
#: Labels that say "the problem is there" (the judge's included); other labels say it is not.
PROBLEM_LABELS = frozenset({"ungrounded", "unfaithful", "invalid", "refused", "pii"})
NO_PROBLEM_LABELS = frozenset({"grounded", "faithful", "valid", "answered", "clean"})
SETS = ("rag", "tool_calls", "outputs")


@dataclass(frozen=True)
class Case:
    """One labelled row as a trace: the span to judge and whether the problem is there."""

    id: str
    aspect: str
    problem: bool
    span: SpanView
    trace: TraceView


@dataclass
class Row:
    """One evaluator's line of the calibration table."""

    evaluator: str
    aspect: str
    cases: int
    judged: int
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        problems = self.true_positives + self.false_negatives
        return self.true_positives / problems if problems else None

    @property
    def agreement(self) -> float | None:
        return (self.true_positives + self.true_negatives) / self.judged if self.judged else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "agreement": self.agreement,
        }


def _load(name: str) -> list[dict[str, Any]]:
    text = resources.files("genai_otel.evaluation").joinpath(f"calibration/{name}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _chat(span_id: str, start: int, attributes: dict[str, Any]) -> SpanView:
    base = {semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT, semconv.GEN_AI_REQUEST_MODEL: "labelled"}
    return SpanView("chat labelled", span_id, "0" * 15 + "1", {**base, **attributes}, start, start + 1)


def _trace(case_id: str, spans: list[SpanView]) -> TraceView:
    root = SpanView("calibration", "0" * 15 + "1", None, {}, 0, 10)
    return TraceView(case_id, [root, *spans])


def _rag_case(row: dict[str, Any]) -> Case:
    retrieval = SpanView(
        "retrieval labelled",
        "0" * 15 + "2",
        "0" * 15 + "1",
        {
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_RETRIEVAL,
            semconv.GEN_AI_RETRIEVAL_QUERY_TEXT: row["question"],
            semconv.GEN_AI_RETRIEVAL_DOCUMENTS: json.dumps(row["documents"]),
        },
        1,
        2,
    )
    chat = _chat(
        "0" * 15 + "3",
        3,
        {
            semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                [{"type": "text", "content": "Answer from the context."}]
            ),
            semconv.GEN_AI_INPUT_MESSAGES: _messages("user", row["question"]),
            semconv.GEN_AI_OUTPUT_MESSAGES: _messages("assistant", row["answer"]),
        },
    )
    return Case(row["id"], "faithfulness", not row["faithful"], chat, _trace(row["id"], [retrieval, chat]))


def _tool_case(row: dict[str, Any]) -> Case:
    call = {"type": "tool_call", "id": "call_0", "name": row["name"], "arguments": row["arguments"]}
    chat = _chat(
        "0" * 15 + "2",
        1,
        {
            semconv.GEN_AI_TOOL_DEFINITIONS: json.dumps(
                [{"type": "function", **tool} for tool in row["tools"]]
            ),
            semconv.GEN_AI_INPUT_MESSAGES: _messages("user", "Please do it."),
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": [call]}]),
        },
    )
    return Case(row["id"], "tool_call_validity", not row["valid"], chat, _trace(row["id"], [chat]))


def _output_cases(row: dict[str, Any]) -> list[Case]:
    chat = _chat(
        "0" * 15 + "2",
        1,
        {
            semconv.GEN_AI_INPUT_MESSAGES: _messages("user", "Help me."),
            semconv.GEN_AI_OUTPUT_MESSAGES: _messages("assistant", row["answer"]),
        },
    )
    trace = _trace(row["id"], [chat])
    return [Case(row["id"], aspect, bool(row[aspect]), chat, trace) for aspect in ("refusal", "pii")]


def _spread(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """``limit`` rows spread evenly over the file (its hard cases sit at the end), else all."""
    if limit is None or limit >= len(rows):
        return rows
    return [rows[index * len(rows) // limit] for index in range(max(limit, 0))]


def cases(limit: int | None = None) -> list[Case]:
    """The labelled set as traces; ``limit`` rows of each file, spread evenly (a test-sized run), else all."""
    found: list[Case] = []
    for row in _spread(_load("rag"), limit):
        found.append(_rag_case(row))
    for row in _spread(_load("tool_calls"), limit):
        found.append(_tool_case(row))
    for row in _spread(_load("outputs"), limit):
        found += _output_cases(row)
    return found


def _verdict(result: EvaluationResult | None) -> bool | None:
    """Whether a result flags the problem; ``None`` when it gives no verdict."""
    if result is None or result.label is None:
        return None
    if result.label in PROBLEM_LABELS:
        return True
    return False if result.label in NO_PROBLEM_LABELS else None


def run(evaluators: Iterable[TraceEvaluator], limit: int | None = None) -> list[Row]:
    """Each evaluator scored on the cases of its aspect (see :data:`ASPECTS`; an evaluator with no labelled
    aspect is left out of the table)."""
    labelled = cases(limit)
    table = []
    for evaluator in evaluators:
        aspect = ASPECTS.get(evaluator.name)
        mine = [case for case in labelled if case.aspect == aspect]
        if not mine:
            continue
        row = Row(evaluator.name, aspect or "", len(mine), 0)
        for case in mine:
            verdict = (
                _verdict(evaluator.evaluate(case.span, case.trace))
                if evaluator.applies_to(case.span)
                else None
            )
            if verdict is None:
                continue
            row.judged += 1
            if verdict:
                row.true_positives += case.problem
                row.false_positives += not case.problem
            else:
                row.false_negatives += case.problem
                row.true_negatives += not case.problem
        table.append(row)
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(table: Sequence[Row]) -> str:
    """The table as Markdown (it goes into docs/EVALUATION.md as printed)."""
    lines = [
        "| evaluator | aspect | cases | judged | precision | recall | agreement |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in table:
        lines.append(
            f"| {row.evaluator} | {row.aspect} | {row.cases} | {row.judged} | {_number(row.precision)} "
            f"| {_number(row.recall)} | {_number(row.agreement)} |"
        )
    return "\n".join(lines)


def _evaluators(args: argparse.Namespace) -> list[TraceEvaluator]:
    chosen: list[TraceEvaluator] = [DETERMINISTIC[name]() for name in DETERMINISTIC if name in ASPECTS]
    if args.semantic:
        from genai_otel.evaluation.semantic import SemanticGroundedness

        chosen.append(SemanticGroundedness())
    if args.judge_url:
        from genai_otel.evaluation.judge import FaithfulnessJudge, JudgeClient

        chosen.append(
            FaithfulnessJudge(JudgeClient(args.judge_url, args.judge_model, api_key=args.judge_api_key))
        )
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """``genai-otel evaluate calibrate``: print the calibration table (and write it as JSON)."""
    parser = argparse.ArgumentParser(
        prog="genai-otel evaluate calibrate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--judge-url", help="an OpenAI-compatible endpoint: also score the LLM judge")
    parser.add_argument("--judge-model", default="gpt-4o-mini")
    parser.add_argument("--judge-api-key", default=None)
    parser.add_argument("--semantic", action="store_true", help="also score the embedding-model evaluators")
    parser.add_argument(
        "--limit", type=int, default=None, help="rows per labelled file, spread evenly (default: all)"
    )
    parser.add_argument("--json", dest="json_path", help="write the table as JSON to this file")
    args = parser.parse_args(argv)
    table = run(_evaluators(args), args.limit)
    print(format_table(table))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump([row.as_dict() for row in table], out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
