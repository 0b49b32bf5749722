"""Traces for offline evaluation, from files or a Jaeger query API, grouped into :class:`TraceView`
by trace id.

Files:

* OTLP JSON (the OTLP/HTTP JSON encoding: ``resourceSpans`` -> ``scopeSpans`` -> ``spans``, attributes as
  ``AnyValue``, ids hex or base64, camelCase or snake_case keys): one ``ExportTraceServiceRequest`` per file,
  or one per line (JSON lines, as the Collector's file exporter writes). Jaeger's ``{"result": ...}``
  (API v3) and ``{"data": [...]}`` (the UI's JSON download, API v1) shapes are read too.
* OTLP protobuf: the bytes of one ``ExportTraceServiceRequest`` per file.

Jaeger: ``read_jaeger`` searches ``/api/v3/traces`` (Jaeger v2: OTLP JSON) by service and start time;
``read_jaeger_trace`` fetches ``/api/traces/{id}``.

Malformed input never stops a read: each bad file, line or record becomes one entry of
``ReadResult.errors`` naming where it was, and everything else is still read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from genai_otel.evaluation.api import SpanView, TraceView

_STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR
_ID_FIELDS = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}
_PROTOBUF_SUFFIXES = {".pb", ".bin", ".binpb", ".protobuf", ".otlp"}


@dataclass
class ReadResult:
    """The traces read (in first-seen order) and one message per piece of input that could not be read."""

    traces: list[TraceView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: ReadResult) -> ReadResult:
        collector = _Traces(self.traces)
        for trace in other.traces:
            collector.add_all(trace.trace_id, trace.spans)
        return ReadResult(collector.views(), self.errors + other.errors)


class _Traces:
    """Spans grouped by trace id; a span seen twice (the same file read twice) is kept once."""

    def __init__(self, traces: Iterable[TraceView] = ()) -> None:
        self._by_id: dict[str, TraceView] = {}
        for trace in traces:
            self.add_all(trace.trace_id, trace.spans)

    def add_all(self, trace_id: str, spans: Iterable[SpanView]) -> None:
        view = self._by_id.setdefault(trace_id, TraceView(trace_id))
        for span in spans:
            if view.get(span.span_id) is None:
                view.add(span)

    def views(self) -> list[TraceView]:
        return list(self._by_id.values())


# -- OTLP ------------------------------------------------------------------------------------------------


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_any_value(item) for item in value.array_value.values)  # as the SDK holds arrays
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _add_request(request: Any, traces: _Traces) -> None:
    """The spans of an ``ExportTraceServiceRequest`` message."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                view = SpanView(
                    name=span.name,
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex() or None,
                    attributes={kv.key: _any_value(kv.value) for kv in span.attributes},
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    status_error=span.status.code == _STATUS_ERROR,
                )
                traces.add_all(span.trace_id.hex(), [view])


def read_otlp_request(request: Any) -> ReadResult:
    """The traces of an ``ExportTraceServiceRequest`` message (e.g. ``encode_spans`` of SDK spans)."""
    traces = _Traces()
    _add_request(request, traces)
    return ReadResult(traces.views())


def _ids_to_base64(node: Any) -> Any:
    """OTLP/JSON carries ids as hex; protobuf's JSON mapping wants base64. Hex is recognised by length (32
    or 16 hex digits; the base64 of 16 or 8 bytes is 24 or 12 characters), so both spellings are read."""
    if isinstance(node, list):
        return [_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        size = _ID_FIELDS.get(key)
        if (
            size
            and isinstance(value, str)
            and len(value) == 2 * size
            and re.fullmatch(r"[0-9a-fA-F]*", value)
        ):
            value = base64.b64encode(binascii.unhexlify(value)).decode()
        out[key] = _ids_to_base64(value)
    return out


def _add_otlp_json(document: dict[str, Any], traces: _Traces) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    try:
        request = json_format.ParseDict(
            _ids_to_base64(document), ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except json_format.ParseError as error:
        raise ValueError(f"not OTLP JSON ({error})") from None
    _add_request(request, traces)


def _add_json_document(document: Any, traces: _Traces) -> None:
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    if "result" in document and isinstance(document["result"], dict):  # Jaeger API v3
        document = document["result"]
    if isinstance(document.get("data"), list):  # Jaeger API v1 / UI download
        for jaeger_trace in document["data"]:
            _add_jaeger_v1_trace(jaeger_trace, traces)
        return
    if not ({"resourceSpans", "resource_spans"} & set(document)):
        raise ValueError("no resourceSpans: not an OTLP trace export")
    _add_otlp_json(document, traces)


def _add_otlp_protobuf(data: bytes, traces: _Traces) -> None:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except DecodeError as error:
        raise ValueError(f"not an OTLP protobuf ExportTraceServiceRequest ({error})") from None
    if data and not request.resource_spans:  # bytes that happen to decode, but to no trace data
        raise ValueError("not an OTLP protobuf ExportTraceServiceRequest (no resource spans)")
    _add_request(request, traces)


# -- Jaeger API v1 JSON ------------------------------------------------------------------------------------


def _jaeger_tag(tag: dict[str, Any]) -> Any:
    value = tag.get("value")
    if tag.get("type") == "int64" and isinstance(value, str):
        return int(value)
    if tag.get("type") == "float64" and isinstance(value, str):
        return float(value)
    return value


def _add_jaeger_v1_trace(jaeger_trace: dict[str, Any], traces: _Traces) -> None:
    for span in jaeger_trace.get("spans") or ():
        tags = {tag["key"]: _jaeger_tag(tag) for tag in span.get("tags") or () if "key" in tag}
        parent = next(
            (ref.get("spanID") for ref in span.get("references") or () if ref.get("refType") == "CHILD_OF"),
            None,
        )
        start_ns = int(span.get("startTime") or 0) * 1000
        view = SpanView(
            name=span.get("operationName") or "",
            span_id=str(span["spanID"]).zfill(16),
            parent_id=str(parent).zfill(16) if parent else None,
            # Jaeger's own bookkeeping tags are not span attributes.
            attributes={
                k: v for k, v in tags.items() if not k.startswith("otel.") and k not in ("span.kind", "error")
            },
            start_ns=start_ns,
            end_ns=start_ns + int(span.get("duration") or 0) * 1000,
            status_error=tags.get("otel.status_code") == "ERROR" or tags.get("error") is True,
        )
        traces.add_all(str(span["traceID"]).zfill(32), [view])


# -- files -------------------------------------------------------------------------------------------------


def _json_records(text: str) -> Iterator[tuple[int | None, Any | ValueError]]:
    """(line number or None for a whole-file document, the decoded record or the error decoding it)."""
    try:
        yield None, json.loads(text)
        return
    except json.JSONDecodeError as error:
        if not text.strip() or error.msg != "Extra data":  # one document, broken: report it once
            yield None, ValueError(f"invalid JSON ({error})")
            return
    for number, line in enumerate(text.splitlines(), 1):  # JSON lines
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, ValueError(f"invalid JSON ({error})")


def read_file(path: str | Path) -> ReadResult:
    """One OTLP JSON / JSON lines / protobuf file (by suffix, else by its first byte)."""
    path = Path(path)
    traces, errors = _Traces(), []
    try:
        data = path.read_bytes()
    except OSError as error:
        return ReadResult([], [f"{path}: cannot read ({error.strerror or error})"])
    if path.suffix.lower() in _PROTOBUF_SUFFIXES or data.lstrip()[:1] not in (b"{", b"["):
        try:
            _add_otlp_protobuf(data, traces)
        except ValueError as error:
            errors.append(f"{path}: {error}")
        return ReadResult(traces.views(), errors)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return ReadResult([], [f"{path}: not UTF-8 ({error})"])
    for line, record in _json_records(text):
        where = f"{path}:{line}" if line is not None else str(path)
        if isinstance(record, ValueError):
            errors.append(f"{where}: {record}")
            continue
        try:
            _add_json_document(record, traces)
        except (ValueError, KeyError, TypeError) as error:
            errors.append(f"{where}: {_describe(error)}")
    return ReadResult(traces.views(), errors)


def _describe(error: Exception) -> str:
    return f"missing field {error}" if isinstance(error, KeyError) else str(error).splitlines()[0][:300]


def read_files(paths: Iterable[str | Path]) -> ReadResult:
    """Every file in ``paths`` (a directory: the files in it, sorted), merged by trace id."""
    result = ReadResult()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            result = result.merge(read_file(file))
    return result


# -- Jaeger ------------------------------------------------------------------------------------------------


def _get_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode("utf-8")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:  # a streamed answer: one JSON object per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def read_jaeger(
    url: str, service: str, since: timedelta, *, limit: int = 100, timeout: float = 30.0
) -> ReadResult:
    """The traces of ``service`` that started within ``since`` of now, from Jaeger v2's API v3."""
    now = datetime.now(timezone.utc)
    query = urllib.parse.urlencode(
        {
            "query.service_name": service,
            "query.start_time_min": _rfc3339(now - since),
            "query.start_time_max": _rfc3339(now),
            # The limit's name changed between Jaeger releases; each ignores the other's.
            "query.num_traces": limit,
            "query.search_depth": limit,
        }
    )
    return _read_url(f"{url.rstrip('/')}/api/v3/traces?{query}", timeout)


def read_jaeger_trace(url: str, trace_id: str, *, timeout: float = 30.0) -> ReadResult:
    """One trace by id from Jaeger's ``/api/traces/{id}``."""
    return _read_url(f"{url.rstrip('/')}/api/traces/{trace_id}", timeout)


def _read_url(url: str, timeout: float) -> ReadResult:
    traces, errors = _Traces(), []
    try:
        documents = _get_json(url, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 404:  # Jaeger's answer to a search that found nothing
            return ReadResult()
        return ReadResult([], [f"{url}: HTTP {error.code} {error.read()[:300].decode(errors='replace')}"])
    except (urllib.error.URLError, OSError, ValueError) as error:
        return ReadResult([], [f"{url}: {error}"])
    for number, document in enumerate(documents, 1):
        try:
            _add_json_document(document, traces)
        except (ValueError, KeyError, TypeError) as error:
            errors.append(f"{url} (record {number}): {_describe(error)}")
    return ReadResult(traces.views(), errors)
