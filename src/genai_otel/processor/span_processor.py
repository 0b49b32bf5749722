"""Run the enrichment rules in-process, before spans are exported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor

from genai_otel.processor.model import Rule, SpanRecord, apply_rules
from genai_otel.safety import safely


class EnrichingSpanProcessor(SpanProcessor):
    """Wraps the processor that exports (``BatchSpanProcessor(exporter)``): every finished span goes through
    the rules, then on to it. Spans are immutable once ended, so the exporter gets an enriched copy."""

    def __init__(self, next_processor: SpanProcessor, rules: Sequence[Rule]) -> None:
        self.next = next_processor
        self.rules = list(rules)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.next.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        enriched = safely("processor", self._enrich, span)
        self.next.on_end(enriched if enriched is not None else span)

    def _enrich(self, span: ReadableSpan) -> ReadableSpan:
        record = SpanRecord(
            name=span.name,
            attributes=dict(span.attributes or {}),
            events=[(e.name, dict(e.attributes or {})) for e in span.events],
            trace_id=span.context.trace_id,
            span_id=span.context.span_id,
        )
        apply_rules(record, self.rules)
        events = [
            Event(name, attributes, timestamp=original.timestamp)
            for (name, attributes), original in zip(record.events, span.events, strict=True)
        ]
        return ReadableSpan(
            name=record.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=record.attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            instrumentation_scope=span.instrumentation_scope,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
        )

    def shutdown(self) -> None:
        self.next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> Any:
        return self.next.force_flush(timeout_millis)
