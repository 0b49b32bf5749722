"""OTLP protobuf spans <-> :class:`SpanRecord`: the service applies the same rules as in-process."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from genai_otel.processor.model import SpanRecord
from genai_otel.testing.conformance import otlp_value


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, dict):
        return AnyValue(
            kvlist_value=KeyValueList(values=[KeyValue(key=k, value=any_value(v)) for k, v in value.items()])
        )
    if value is None:
        return AnyValue()
    return AnyValue(string_value=str(value))


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: otlp_value(kv.value) for kv in kvs}


def _set(target: Any, attributes: dict[str, Any]) -> None:
    del target[:]
    target.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())


_ZERO_TRACE, _ZERO_SPAN = bytes(16), bytes(8)


def _valid_ids(span: Any) -> bool:
    trace_id, span_id = span.trace_id, span.span_id
    return len(trace_id) == 16 and len(span_id) == 8 and trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN


def drop_invalid_spans(request: Any) -> int:
    """Remove spans no backend can store (trace id not 16 bytes, span id not 8, or all zero); the rest
    of the request goes on. Returns how many were removed (answered as an OTLP partial success)."""
    rejected = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            keep = [span for span in scope_spans.spans if _valid_ids(span)]
            if len(keep) != len(scope_spans.spans):
                rejected += len(scope_spans.spans) - len(keep)
                del scope_spans.spans[:]
                scope_spans.spans.extend(keep)
    return rejected


def enrich_request(request: Any, apply: Any) -> int:
    """Apply ``apply(record)`` to every span of an ExportTraceServiceRequest in place; returns the
    span count."""
    count = 0
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                record = SpanRecord(
                    name=span.name,
                    attributes=_attributes(span.attributes),
                    events=[(e.name, _attributes(e.attributes)) for e in span.events],
                    resource=resource,
                    trace_id=span.trace_id,
                    span_id=span.span_id,
                )
                apply(record)
                span.name = record.name
                _set(span.attributes, record.attributes)
                for event, (_name, attributes) in zip(span.events, record.events, strict=True):
                    _set(event.attributes, attributes)
                count += 1
    return count


def export_request(attributes: dict[str, Any], count: int = 1, name: str = "chat", first: int = 0) -> Any:
    """An ExportTraceServiceRequest of ``count`` spans (one trace each) carrying ``attributes``, for
    tests and benchmarks."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    values = [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]
    spans = [
        Span(
            trace_id=(first + i + 1).to_bytes(16, "big"),
            span_id=(i + 1).to_bytes(8, "big"),
            name=name,
            attributes=values,
            start_time_unix_nano=1,
            end_time_unix_nano=2,
        )
        for i in range(count)
    ]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
