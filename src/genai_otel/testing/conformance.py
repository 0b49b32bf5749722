"""Conformance checker for emitted telemetry, driven by ``conventions/`` (via ``semconv``).

    violations = check_spans(exporter.get_finished_spans(), content_captured=False)
    violations += check_metrics(reader.get_metrics_data(), profiles=("latest",))
    assert not violations, format_violations(violations)

Spans can come from the SDK (``ReadableSpan``) or from OTLP (``opentelemetry.proto`` spans):
both are first reduced to a :class:`SpanView`. Only spans with a shape in
``conventions/spans.yaml`` (GenAI spans carrying ``gen_ai.operation.name``, messaging spans carrying
``messaging.operation.type``) are checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from genai_otel import semconv
from genai_otel.conventions import (
    SHAPE_BY_OPERATION as _SHAPE_BY_OPERATION,
)
from genai_otel.conventions import (
    expected_name,
    otlp_value,
    shape_key,
    shape_of,
)

__all__ = [
    "SpanView",
    "Violation",
    "assert_conformant",
    "check_log_records",
    "check_metrics",
    "check_span",
    "check_spans",
    "expected_name",
    "format_violations",
    "otlp_value",
    "shape_of",
    "span_view",
]
_ALIASES = {old for profile in semconv.METRIC_PROFILES.values() for old in profile["span_aliases"].values()}
_DEFAULT_POINT_REQUIRES = (semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME)
_MODALITIES = ("text", "image", "audio", "unknown")
_MESSAGE_ATTRIBUTES = {semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES}
_PART_ATTRIBUTES = {semconv.GEN_AI_SYSTEM_INSTRUCTIONS}


@dataclass(frozen=True)
class Violation:
    subject: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.detail}"


@dataclass
class SpanView:
    name: str
    kind: str  # "CLIENT", "INTERNAL", ...
    attributes: dict[str, Any]
    error: bool = False
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def span_view(span: Any) -> SpanView:
    """Reduce an SDK ``ReadableSpan`` or an OTLP proto ``Span`` to a :class:`SpanView`."""
    if hasattr(span, "instrumentation_scope"):  # SDK span
        return SpanView(
            name=span.name,
            kind=span.kind.name,
            attributes=dict(span.attributes or {}),
            error=span.status.status_code.name == "ERROR",
            events=[(e.name, dict(e.attributes or {})) for e in span.events],
        )
    kinds = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
    return SpanView(
        name=span.name,
        kind=kinds.get(span.kind, "UNSPECIFIED"),
        attributes={kv.key: otlp_value(kv.value) for kv in span.attributes},
        error=span.status.code == 2,
        events=[(e.name, {kv.key: otlp_value(kv.value) for kv in e.attributes}) for e in span.events],
    )


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "string[]":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return True  # "any": structured content, serialised as JSON text


def _check_messages(subject: str, name: str, raw: Any) -> list[Violation]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return [Violation(subject, "content-json", f"{name} is not valid JSON (truncated without marker?)")]
    if not isinstance(value, list):
        return [Violation(subject, "content-shape", f"{name} must be a JSON array")]
    problems = []
    for item in value:
        parts = item.get("parts") if isinstance(item, dict) and name in _MESSAGE_ATTRIBUTES else [item]
        if name in _MESSAGE_ATTRIBUTES and (not isinstance(item, dict) or "role" not in item):
            problems.append(
                Violation(subject, "content-shape", f"{name}: message without role: {item!r:.80}")
            )
        if not isinstance(parts, list) or not all(isinstance(p, dict) and "type" in p for p in parts):
            problems.append(Violation(subject, "content-shape", f"{name}: parts must be objects with a type"))
    return problems


def check_span(
    span: Any, *, content_captured: bool, profiles: Sequence[str] = ("latest",)
) -> list[Violation]:
    view = span if isinstance(span, SpanView) else span_view(span)
    attrs = view.attributes
    key = shape_key(attrs)
    if key is None:
        return []
    operation = attrs[key]
    subject = f"span {view.name!r}"
    shape = _SHAPE_BY_OPERATION.get((key, operation))
    if shape is None:
        return [Violation(subject, "operation", f"unknown {key} {operation!r}")]
    out: list[Violation] = []
    expected = expected_name(shape, attrs)
    if view.name != expected:
        out.append(Violation(subject, "span-name", f"expected {expected!r}"))
    if view.kind not in shape["kinds"]:
        out.append(Violation(subject, "span-kind", f"{view.kind} not in {shape['kinds']}"))
    levels: dict[str, str] = shape["attributes"]
    for name, level in levels.items():
        if level == "required" and name not in attrs:
            out.append(Violation(subject, "required", f"missing {name}"))
    if view.error and semconv.ERROR_TYPE not in attrs:
        out.append(Violation(subject, "conditionally-required", "failed span without error.type"))
    if semconv.ERROR_TYPE in attrs and not view.error:
        out.append(Violation(subject, "status", "error.type set but status is not ERROR"))
    if semconv.SERVER_ADDRESS in attrs and semconv.SERVER_PORT not in attrs:
        out.append(Violation(subject, "conditionally-required", "server.address without server.port"))
    if attrs.get(semconv.GEN_AI_REQUEST_CHOICE_COUNT) == 1:
        out.append(Violation(subject, "conditionally-required", "gen_ai.request.choice.count set to 1"))
    allowed_aliases = {old for p in profiles for old in semconv.METRIC_PROFILES[p]["span_aliases"].values()}
    for name, value in attrs.items():
        spec = semconv.ATTRIBUTES.get(name)
        if spec is None:
            out.append(Violation(subject, "unregistered", f"{name} is not in conventions/attributes.yaml"))
            continue
        if name in _ALIASES:
            if name not in allowed_aliases:
                out.append(Violation(subject, "profile", f"{name} belongs to a profile that is not selected"))
        elif name not in levels and name not in semconv.COMMON_SPAN_ATTRIBUTES:
            out.append(Violation(subject, "not-allowed", f"{name} is not part of the {operation} span"))
        if not _type_ok(spec["type"], value):
            out.append(
                Violation(subject, "type", f"{name} should be {spec['type']}, got {type(value).__name__}")
            )
        if spec.get("content"):
            if not content_captured:
                out.append(Violation(subject, "content-off", f"{name} recorded while content capture is off"))
            elif name in _MESSAGE_ATTRIBUTES | _PART_ATTRIBUTES:
                out.extend(_check_messages(subject, name, value))
    return out


def check_spans(
    spans: Iterable[Any], *, content_captured: bool = False, profiles: Sequence[str] = ("latest",)
) -> list[Violation]:
    return [
        v for span in spans for v in check_span(span, content_captured=content_captured, profiles=profiles)
    ]


def _metric_specs(profiles: Sequence[str]) -> dict[str, dict[str, Any]]:
    # The first profile defining a metric wins, as in telemetry.metrics.MetricRecorder.
    specs: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        for metric in semconv.METRIC_PROFILES[profile]["metrics"]:
            specs.setdefault(metric["name"], metric)
    return specs


def check_metrics(metrics_data: Any, *, profiles: Sequence[str] = ("latest",)) -> list[Violation]:
    """Check SDK ``MetricsData``: names, units, instrument types, buckets and point attributes."""
    specs = _metric_specs(profiles)
    everything = _metric_specs(tuple(semconv.METRIC_PROFILES))
    allowed_point = set(semconv.METRIC_POINT_ATTRIBUTES) | {
        semconv.GEN_AI_TOKEN_TYPE,
        semconv.GEN_AI_TOKEN_MODALITY,
    }
    out: list[Violation] = []
    for resource_metrics in getattr(metrics_data, "resource_metrics", ()) or ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not metric.name.startswith("gen_ai."):
                    continue
                subject = f"metric {metric.name}"
                spec = specs.get(metric.name)
                if spec is None:
                    rule = "profile" if metric.name in everything else "unregistered"
                    out.append(Violation(subject, rule, "not in the selected profiles"))
                    continue
                out.extend(_check_metric(subject, spec, metric, allowed_point))
    return out


def _check_metric(
    subject: str, spec: dict[str, Any], metric: Any, allowed_point: set[str]
) -> list[Violation]:
    out = []
    if metric.unit != spec["unit"]:
        out.append(Violation(subject, "unit", f"unit {metric.unit!r}, expected {spec['unit']!r}"))
    kind = type(metric.data).__name__
    expected_kind = "Histogram" if spec["instrument"] == "histogram" else "Sum"
    if kind != expected_kind:
        out.append(Violation(subject, "instrument", f"{kind}, expected {expected_kind}"))
    for point in metric.data.data_points:
        attributes = dict(point.attributes or {})
        for required in spec.get("requires", _DEFAULT_POINT_REQUIRES):
            if required not in attributes:
                out.append(Violation(subject, "required", f"point without {required}"))
        base = allowed_point if spec.get("base_attributes", True) else set()
        for name in attributes:
            if name not in base and name not in spec.get("attributes", ()):
                out.append(Violation(subject, "point-attribute", f"unexpected {name}"))
        if spec.get("modality") and attributes.get(semconv.GEN_AI_TOKEN_MODALITY) not in _MODALITIES:
            out.append(Violation(subject, "required", "usage point without a known gen_ai.token.modality"))
        if spec["measure"] == "tokens_by_type" and attributes.get(semconv.GEN_AI_TOKEN_TYPE) not in (
            "input",
            "output",
        ):
            out.append(Violation(subject, "required", "token usage point without gen_ai.token.type"))
        if expected_kind == "Histogram" and list(point.explicit_bounds) != list(
            semconv.METRIC_BUCKETS[spec["buckets"]]
        ):
            out.append(Violation(subject, "buckets", "bucket boundaries differ from the advised ones"))
    return out


def _log_view(record: Any) -> tuple[str | None, dict[str, Any], Any]:
    """``(event_name, attributes, body)`` of an SDK ``LogRecord`` (or ``ReadableLogRecord``) or an OTLP
    proto ``LogRecord``."""
    record = getattr(record, "log_record", record)
    if hasattr(record, "time_unix_nano"):  # OTLP proto
        body = otlp_value(record.body) if record.HasField("body") else None
        return record.event_name or None, {kv.key: otlp_value(kv.value) for kv in record.attributes}, body
    return getattr(record, "event_name", None), dict(record.attributes or {}), record.body


def check_log_records(records: Iterable[Any], *, content_captured: bool = False) -> list[Violation]:
    """Check GenAI events (log records named ``gen_ai.*``): registered name, allowed and well-typed
    attributes, and no content -- neither in a content attribute nor in the body -- unless content capture
    includes events (``content_captured``)."""
    out: list[Violation] = []
    for record in records:
        name, attributes, body = _log_view(record)
        if not name or not name.startswith("gen_ai."):
            continue
        subject = f"event {name!r}"
        spec = semconv.EVENTS.get(name)
        if spec is None:
            out.append(Violation(subject, "unregistered", "not in conventions/"))
            continue
        content_names = set(spec["content_attributes"])
        allowed = set(spec["attributes"]) | content_names
        for key, value in attributes.items():
            registered = semconv.ATTRIBUTES.get(key)
            if key not in allowed:
                out.append(Violation(subject, "not-allowed", f"{key} is not part of the {name} event"))
            elif registered is not None and not _type_ok(registered["type"], value):
                out.append(
                    Violation(
                        subject, "type", f"{key} should be {registered['type']}, got {type(value).__name__}"
                    )
                )
            is_content = key in content_names or (registered or {}).get("content")
            if is_content and not content_captured:
                out.append(Violation(subject, "content-off", f"{key} recorded while content capture is off"))
        if body not in (None, "", {}, ()) and not content_captured:
            out.append(Violation(subject, "content-off", "a body (content) while content capture is off"))
    return out


def format_violations(violations: Iterable[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


def assert_conformant(
    spans: Iterable[Any] = (),
    metrics_data: Any = None,
    *,
    content_captured: bool = False,
    profiles: Sequence[str] = ("latest",),
    log_records: Iterable[Any] = (),
    content_in_events: bool = False,
) -> None:
    """Raise ``AssertionError`` listing every violation (of spans, metrics, and GenAI events among
    ``log_records``; ``content_in_events``: whether capture includes events)."""
    violations = check_spans(spans, content_captured=content_captured, profiles=profiles)
    if metrics_data is not None:
        violations += check_metrics(metrics_data, profiles=profiles)
    violations += check_log_records(log_records, content_captured=content_in_events)
    if violations:
        raise AssertionError("GenAI conventions violated:\n" + format_violations(violations))
