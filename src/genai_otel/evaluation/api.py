"""What trace-aware evaluation works on: the spans of one trace, the span being judged, an optional
expectation from a dataset, and the results.

An evaluator judges one span (a chat answer, an agent run, a tool call) with the evidence the rest of its
trace holds: the documents retrieved before an answer, the tool definitions a call was made against, the
steps of an agent run. The same evaluators run in-process (a span processor), in the processor service
(spans grouped per trace) and offline (``genai-otel evaluate`` over exported traces).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from genai_otel import semconv


@dataclass(frozen=True)
class EvaluationResult:
    """One ``gen_ai.evaluation.result``: ``score`` (higher is better unless the evaluator says otherwise),
    ``label`` (a low-cardinality verdict), ``explanation`` (free text, may quote content)."""

    name: str
    score: float | None = None
    label: str | None = None
    explanation: str | None = None


@dataclass
class SpanView:
    """One finished span as evaluation sees it, whatever it came from (SDK span, OTLP, Jaeger JSON)."""

    name: str
    span_id: str  # hex
    parent_id: str | None  # hex
    attributes: dict[str, Any]
    start_ns: int = 0
    end_ns: int = 0
    status_error: bool = False

    @property
    def operation(self) -> str | None:
        return self.attributes.get(semconv.GEN_AI_OPERATION_NAME)

    def json_attribute(self, name: str) -> Any:
        """A JSON-valued attribute (messages, documents, tool definitions) decoded; ``None`` if absent/bad."""
        value = self.attributes.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # hostile nesting too
            return None


@dataclass
class TraceView:
    """The spans of one trace (possibly still incomplete), indexed for the questions evaluators ask."""

    trace_id: str  # hex
    spans: list[SpanView] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id: dict[str, SpanView] = {}
        self._children: dict[str, list[SpanView]] = {}
        for span in self.spans:
            self._index(span)

    def _index(self, span: SpanView) -> None:
        self._by_id[span.span_id] = span
        if span.parent_id:
            self._children.setdefault(span.parent_id, []).append(span)

    def add(self, span: SpanView) -> None:
        self.spans.append(span)
        self._index(span)

    def get(self, span_id: str | None) -> SpanView | None:
        return self._by_id.get(span_id) if span_id else None

    def parent(self, span: SpanView) -> SpanView | None:
        return self.get(span.parent_id)

    def ancestors(self, span: SpanView) -> Iterator[SpanView]:
        seen = set()
        current = self.parent(span)
        while current is not None and current.span_id not in seen:  # a cycle in hostile input ends here
            seen.add(current.span_id)
            yield current
            current = self.parent(current)

    def children(self, span: SpanView) -> list[SpanView]:
        return sorted(self._children.get(span.span_id, ()), key=lambda s: s.start_ns)

    def descendants(self, span: SpanView) -> list[SpanView]:
        out, stack, seen = [], [span], {span.span_id}
        while stack:
            for child in self.children(stack.pop()):
                if child.span_id not in seen:
                    seen.add(child.span_id)
                    out.append(child)
                    stack.append(child)
        return sorted(out, key=lambda s: s.start_ns)

    def with_operation(self, *operations: str, spans: Iterable[SpanView] | None = None) -> list[SpanView]:
        wanted = set(operations)
        return [s for s in (self.spans if spans is None else spans) if s.operation in wanted]

    def before(self, span: SpanView, candidates: Iterable[SpanView]) -> list[SpanView]:
        """``candidates`` that ended before ``span`` started (the evidence it could have seen)."""
        return [c for c in candidates if c.end_ns and c.end_ns <= span.start_ns]


@dataclass(frozen=True)
class Expectation:
    """What a dataset row expects of a trace (``genai-otel evaluate --dataset``): matched by input text."""

    input: str
    expected_answer: str | None = None
    expected_documents: tuple[str, ...] = ()
    expected_tools: tuple[str, ...] = ()
    expected_agents: tuple[str, ...] = ()


class TraceEvaluator(Protocol):
    """Judges spans of a trace. ``name`` is ``gen_ai.evaluation.name``; ``applies_to`` picks the spans it
    judges (cheap: it runs on every span); ``evaluate`` may return no result when the evidence it needs is
    absent (content not captured, no retrieval before the answer)."""

    name: str

    def applies_to(self, span: SpanView) -> bool: ...

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None: ...
