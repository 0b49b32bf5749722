"""The three OTLP signals the service carries -- traces, logs, metrics: their request and response
messages, export methods and item counts, and the log-record side of the rules (log records travel as
:class:`SpanRecord` with ``is_log=True``, so redaction and limits apply to GenAI log events too)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from genai_otel.processor.model import SpanRecord
from genai_otel.processor.otlp import _attributes, _encode_pair, _field, any_value, parse, python_value


@dataclass(frozen=True)
class Signal:
    """How an OTLP signal is shaped: request -> resources -> scopes -> items (spans, logs, metrics)."""

    name: str
    request: Any
    response: Any
    partial_success: Any
    #: The partial-success field that counts what was refused.
    rejected_field: str
    service: str
    resources: str
    scopes: str
    items: str
    #: The service's counters for this signal: received, forwarded, rejected.
    counters: tuple[str, str, str]

    @property
    def method(self) -> str:
        return f"/{self.service}/Export"

    def parse(self, data: bytes) -> Any:
        """A serialized request of this signal, decoded as deep as the Collector takes (``otlp.parse``)."""
        return parse(self.request, data)

    def response_for(self, rejected: int, message: str) -> Any:
        """The Export answer; a partial success names what was refused."""
        if not rejected:
            return self.response()
        partial = self.partial_success(**{self.rejected_field: rejected, "error_message": message})
        return self.response(partial_success=partial)

    def count(self, request: Any) -> int:
        return sum(
            len(getattr(scope, self.items))
            for resource in getattr(request, self.resources)
            for scope in getattr(resource, self.scopes)
        )

    def count_bytes(self, data: bytes) -> int:
        return self.count(self.parse(data))


SIGNALS: dict[str, Signal] = {
    "traces": Signal(
        "traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "rejected_spans",
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "resource_spans",
        "scope_spans",
        "spans",
        ("received", "forwarded", "rejected"),
    ),
    "logs": Signal(
        "logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "rejected_log_records",
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "resource_logs",
        "scope_logs",
        "log_records",
        ("logs_received", "logs_forwarded", "logs_rejected"),
    ),
    "metrics": Signal(
        "metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "rejected_data_points",
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "resource_metrics",
        "scope_metrics",
        "metrics",
        ("metrics_received", "metrics_forwarded", "metrics_rejected"),
    ),
}


# -- logs through the rules -----------------------------------------------------------------------

_LOG_ATTRIBUTES_TAG = bytes([6 << 3 | 2])  # LogRecord.attributes


def drop_invalid_log_records(request: Any) -> int:
    """Remove log records whose trace or span id has a wrong length (a log may have none: empty is fine);
    backends refuse the whole request for one such id. Returns how many were removed."""
    rejected = 0
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            records = scope_logs.log_records
            keep = [r for r in records if len(r.trace_id) in (0, 16) and len(r.span_id) in (0, 8)]
            if len(keep) != len(records):
                rejected += len(records) - len(keep)
                del records[:]
                records.extend(keep)
    return rejected


def _body(record: Any) -> Any:
    return python_value(record.body) if record.HasField("body") else None


def enrich_logs(request: Any, apply: Callable[[list[SpanRecord]], Any]) -> int:
    """Hand every log record of an ExportLogsServiceRequest to ``apply`` as a :class:`SpanRecord`
    (``is_log=True``; name = event name, body decoded) and write back what the rules changed: event name,
    attributes and body. Returns the log record count."""
    logs: list[Any] = []
    records: list[SpanRecord] = []
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                logs.append(log)
                records.append(
                    SpanRecord(
                        name=log.event_name,
                        attributes=_attributes(log.attributes),
                        resource=resource,
                        trace_id=log.trace_id,
                        span_id=log.span_id,
                        body=_body(log),
                        is_log=True,
                    )
                )
    apply(records)
    # Compared with a fresh decode of the untouched message: a rule may change a nested value in place.
    for log, record in zip(logs, records, strict=True):
        if record.name != log.event_name:
            log.event_name = record.name
        if record.attributes != _attributes(log.attributes):
            log.ClearField("attributes")
            log.MergeFromString(
                b"".join(
                    _field(_LOG_ATTRIBUTES_TAG, _encode_pair(k, v)) for k, v in record.attributes.items()
                )
            )
        if record.body != _body(log):
            if record.body is None:
                log.ClearField("body")
            else:
                log.body.CopyFrom(any_value(record.body))
    return len(records)
