"""The transport-neutral span every rule works on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from genai_otel.safety import report_internal_error


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
    """A rule changes a record's ``name``, ``attributes``, the attribute dicts of its ``events`` and its
    ``body``. It should replace a nested value (a list, a dict, the body) rather than change it in place:
    when a rule raises, the record is put back as it was before the rule (see :func:`apply_rules_to_batch`),
    and that restores the top level of each of those, not the inside of the values they hold.

    A rule whose class sets ``atomic = True`` promises to write nothing until it can no longer fail (it
    works out its changes first, then commits them with plain assignments); it is run without the copy."""

    name: str

    def apply(self, span: SpanRecord) -> None: ...


#: Records each rule failed on, by rule name, since the process started: the record went on without any
#: of that rule's changes. The service reports the total as a metric; read it with :func:`rule_failures`.
failures: Counter[str] = Counter()
_failures_lock = threading.Lock()


def rule_failures() -> dict[str, int]:
    """A copy of :data:`failures`: records each rule failed on, by rule name."""
    with _failures_lock:
        return dict(failures)


def apply_rules(span: SpanRecord, rules: Iterable[Rule]) -> SpanRecord:
    """Run every rule; a failing rule is logged once and skipped, never losing the span."""
    apply_rules_to_batch([span], rules)
    return span


def apply_rules_to_batch(spans: list[SpanRecord], rules: Iterable[Rule]) -> None:
    """Run every rule over ``spans``, rule by rule (each span still sees the rules in order). A rule applies
    to a span completely or not at all: one that raises is logged once, counted in :data:`failures`, and
    the span is put back as it was before that rule (name, attributes, events, body; the later rules still
    run). The copy that makes this possible is shallow and only made for rules not marked ``atomic``."""
    for rule in rules:
        if getattr(rule, "atomic", False):
            for span in spans:
                try:
                    rule.apply(span)
                except Exception:
                    _failed(rule)  # an atomic rule raises before its first write: nothing to undo
            continue
        for span in spans:
            events = span.events
            saved = (
                span.name,
                dict(span.attributes),
                [(name, dict(attributes)) for name, attributes in events] if events else None,
                span.body,
            )
            try:
                rule.apply(span)
            except Exception:
                span.name, span.attributes, saved_events, span.body = saved
                span.events = saved_events if saved_events is not None else []
                _failed(rule)


def _failed(rule: Rule) -> None:
    name = str(getattr(rule, "name", type(rule).__name__))
    with _failures_lock:
        failures[name] += 1
    report_internal_error(f"processor rule {name}")
