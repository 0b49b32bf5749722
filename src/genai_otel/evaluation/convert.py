"""Finished OpenTelemetry SDK spans (``ReadableSpan``: an in-memory exporter, a span processor) as
:class:`~genai_otel.evaluation.api.TraceView` s, one per trace."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from genai_otel.evaluation.api import SpanView, TraceView


def span_view(span: Any) -> SpanView:
    """One SDK span as evaluation sees it (attribute tuples become lists, as JSON decoding gives them)."""
    parent = span.parent
    return SpanView(
        name=span.name,
        span_id=format_span_id(span.context.span_id),
        parent_id=format_span_id(parent.span_id) if parent is not None and parent.is_valid else None,
        attributes={k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()},
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status_error=span.status.status_code is StatusCode.ERROR,
    )


def from_sdk_spans(spans: Iterable[Any]) -> list[TraceView]:
    """SDK spans grouped into one trace view per trace id, in the order traces first appear."""
    traces: dict[str, TraceView] = {}
    for span in spans:
        trace_id = format_trace_id(span.context.trace_id)
        view = traces.get(trace_id)
        if view is None:
            view = traces[trace_id] = TraceView(trace_id)
        view.add(span_view(span))
    return list(traces.values())
