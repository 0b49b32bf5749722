"""Output checks: refusal, JSON / JSON-schema validity of structured output, personal data or secrets in
outputs (the redaction rule's detectors), and terms from a policy lexicon. Each looks at one span's output;
all need content capture (outputs are content)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from genai_otel import detectors, semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceView
from genai_otel.evaluation.schema import violations


def _output(span: SpanView) -> str | None:
    """A model call's or agent run's answer, or a tool's result."""
    if span.operation == semconv.OPERATION_EXECUTE_TOOL:
        result = span.attributes.get(semconv.GEN_AI_TOOL_CALL_RESULT)
        return None if result is None else str(result)[: evidence.MAX_TEXT]
    return evidence.answer(span)


def _has_output(span: SpanView) -> bool:
    return (
        semconv.GEN_AI_OUTPUT_MESSAGES in span.attributes
        or semconv.GEN_AI_TOOL_CALL_RESULT in span.attributes
    )


class Refusal:
    """Did the model decline? Phrases such as "I can't help with", "I'm unable to", "as an AI".

    Needs: ``gen_ai.output.messages`` text on a model call or agent span (content capture). As the
    processor's per-span refusal check: ``score`` 1.0 / ``label`` ``refused`` when it refused, else 0.0 /
    ``answered`` (here a high score is the finding)."""

    name = "refusal"
    _PATTERN = re.compile(
        r"\b(?:I(?:'m| am) (?:sorry,? (?:but )?)?(?:unable|not able) to"
        r"|I can(?:no|')t (?:help|assist|do|provide|share|comply|answer)"
        r"|I (?:won't|will not) (?:help|assist|provide|do)|as an AI\b|I must decline"
        r"|I'm not (?:allowed|permitted) to)",
        re.IGNORECASE,
    )

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in (*evidence.ANSWER_OPERATIONS, *evidence.AGENT_OPERATIONS) and _has_output(
            span
        )

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        text = evidence.answer(span)
        if not text:
            return None
        match = self._PATTERN.search(text)
        if match:
            return EvaluationResult(self.name, 1.0, "refused", f"says {match.group(0)!r}")
        return EvaluationResult(self.name, 0.0, "answered")


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


class JsonValidity:
    """Is a structured output valid JSON, and does it match ``schema`` when one is given?

    Judges model calls that asked for JSON (``gen_ai.output.type`` ``json``), or every model call when a
    schema is given; a Markdown code fence around the JSON is accepted. Needs ``gen_ai.output.messages``
    (content capture). ``score`` 1.0 / ``valid``, or 0.0 / ``invalid``."""

    name = "json_validity"

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.schema = schema

    def applies_to(self, span: SpanView) -> bool:
        asked = self.schema is not None or span.attributes.get(semconv.GEN_AI_OUTPUT_TYPE) == "json"
        return asked and span.operation in evidence.ANSWER_OPERATIONS and _has_output(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        text = evidence.answer(span)
        if text is None:
            return None
        fenced = _FENCE.match(text)
        body = (fenced.group(1) if fenced else text).strip()
        decoded, value = evidence.decoded_arguments(body) if body else (False, None)
        if not decoded:
            return EvaluationResult(self.name, 0.0, "invalid", "not JSON")
        problems = violations(value, self.schema) if self.schema else []
        if problems:
            return EvaluationResult(self.name, 0.0, "invalid", "; ".join(problems)[:1000])
        return EvaluationResult(self.name, 1.0, "valid")


class PersonalData:
    """Personal data or secrets in an output: emails, phone numbers, card numbers (Luhn-checked), API keys,
    bearer tokens, URL credentials -- the detectors the redaction rule uses (:mod:`genai_otel.detectors`).

    Judges model calls, agent runs (``gen_ai.output.messages``) and tool results
    (``gen_ai.tool.call.result``); needs content capture, and must run before redaction (a redacted value is
    gone). ``score`` 1.0 / ``clean``, or 0.0 / ``pii`` with the kinds found (never the values)."""

    name = "pii"

    def applies_to(self, span: SpanView) -> bool:
        return _has_output(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        text = _output(span)
        if text is None:
            return None
        kinds = Counter(label for label, _value in detectors.find(text))
        if kinds:
            found = ", ".join(f"{label} x{count}" for label, count in sorted(kinds.items()))
            return EvaluationResult(self.name, 0.0, "pii", f"found {found}")
        return EvaluationResult(self.name, 1.0, "clean")


def default_terms() -> list[str]:
    """The packaged policy lexicon (``evaluation/data/policy_terms.txt``)."""
    text = resources.files("genai_otel.evaluation").joinpath("data/policy_terms.txt").read_text("utf-8")
    return read_terms(text.splitlines())


def read_terms(lines: Iterable[str]) -> list[str]:
    """Terms from lines: blank lines and ``#`` comments skipped."""
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class PolicyTerms:
    """Terms from a lexicon (toxicity, policy: your list, or the small packaged default) in an output.

    Matching is case-insensitive on word boundaries. Judges model calls and agent runs
    (``gen_ai.output.messages``); needs content capture. ``score`` 1.0 / ``clean``, or 0.0 / ``flagged``
    with the terms found."""

    name = "policy_terms"

    def __init__(self, terms: Iterable[str] | None = None) -> None:
        chosen = sorted(
            {t.lower() for t in (default_terms() if terms is None else terms) if t}, key=len, reverse=True
        )
        body = "|".join(r"\s+".join(map(re.escape, t.split())) for t in chosen)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE) if chosen else None

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyTerms:
        return cls(read_terms(Path(path).read_text(encoding="utf-8").splitlines()))

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in (*evidence.ANSWER_OPERATIONS, *evidence.AGENT_OPERATIONS) and _has_output(
            span
        )

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        text = evidence.answer(span)
        if text is None or self._pattern is None:
            return None
        found = sorted({" ".join(m.group(0).lower().split()) for m in self._pattern.finditer(text)})
        if found:
            return EvaluationResult(self.name, 0.0, "flagged", f"terms: {', '.join(found)[:500]}")
        return EvaluationResult(self.name, 1.0, "clean")
