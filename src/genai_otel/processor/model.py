"""The transport-neutral span every rule works on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from genai_otel.telemetry.safety import report_internal_error


@dataclass
class SpanRecord:
    """Name, attributes and events of one span; rules change them in place."""

    name: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    #: The span's trace (bytes from OTLP, an int in-process): rules that look across a trace key on it.
    trace_id: Any = None
    span_id: Any = None
    #: Log records (OTLP logs) travel as records too: ``name`` is the event name, ``attributes`` the log
    #: attributes, and ``body`` the log body decoded to Python values (str, int, float, bool, bytes, list,
    #: dict or None). Rules treat a body as content. ``None`` for spans.
    body: Any = None
    is_log: bool = False


class Rule(Protocol):
    name: str

    def apply(self, span: SpanRecord) -> None: ...


def apply_rules(span: SpanRecord, rules: Iterable[Rule]) -> SpanRecord:
    """Run every rule; a failing rule is logged once and skipped, never losing the span."""
    apply_rules_to_batch([span], rules)
    return span


def apply_rules_to_batch(spans: list[SpanRecord], rules: Iterable[Rule]) -> None:
    """Run every rule over ``spans``, rule by rule (each span still sees the rules in order); a rule
    failing on a span is logged once and skipped for that span, never losing it."""
    for rule in rules:
        for span in spans:
            try:
                rule.apply(span)
            except Exception:
                report_internal_error(f"processor rule {rule.name}")
