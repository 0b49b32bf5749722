"""OTLP/HTTP bodies for the processor service: protobuf or JSON requests, gzip or deflate compressed,
answered in the request's encoding, with a ``google.rpc.Status`` body on errors (as the OTLP/HTTP
specification asks). The JSON encoding is protobuf's JSON mapping except that trace and span ids are hex
strings, which is converted here."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from genai_otel.processor.otlp import _field, _varint

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# HTTP status -> google.rpc.Code for the Status body.
_RPC_CODES = {400: 3, 404: 5, 411: 3, 413: 8, 415: 3, 503: 14}


class HttpError(ValueError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def response_type(content_type: str | None) -> str:
    """The answer's content type: the request's (JSON or protobuf), protobuf when unknown."""
    return JSON if content_type and "json" in content_type.lower() else PROTOBUF


def read_body(stream: Any, content_length: str | None, transfer_encoding: str | None, limit: int) -> bytes:
    """The request body from ``stream``: ``content-length`` bytes, or chunked; refused beyond ``limit``."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        return _read_chunked(stream, limit)
    try:
        length = int(content_length) if content_length is not None else None
    except ValueError:
        length = -1
    if length is None:
        raise HttpError(411, "send a content-length (or a chunked body)")
    if length < 0:
        raise HttpError(400, f"invalid content-length {content_length!r}")
    if length > limit:
        raise HttpError(413, f"permanent: the request is larger than {limit} bytes")
    body = stream.read(length)
    if len(body) < length:
        raise HttpError(400, "the body is shorter than its content-length")
    return body


def _read_chunked(stream: Any, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        line = stream.readline(1026)
        try:
            chunk = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise HttpError(400, "malformed chunked body") from None
        if chunk == 0:
            while stream.readline(1026) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        size += chunk
        if chunk < 0 or size > limit:
            raise HttpError(413 if chunk > 0 else 400, f"permanent: the request is larger than {limit} bytes")
        data = stream.read(chunk)
        stream.readline(3)  # the CRLF after the chunk
        if len(data) < chunk:
            raise HttpError(400, "the chunked body ends early")
        chunks.append(data)


def decode_request(
    body: bytes, content_type: str | None, content_encoding: str | None, limit: int, signal: str = "traces"
) -> bytes:
    """The request as the signal's Export*ServiceRequest protobuf bytes, or :class:`HttpError`."""
    body = decompress(body, content_encoding, limit)
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == PROTOBUF:
        return body
    if kind == JSON:
        return _json_to_protobuf(body, signal)
    raise HttpError(415, "send application/x-protobuf or application/json (OTLP/HTTP)")


def encode_response(message: Any, kind: str) -> bytes:
    if kind == JSON:
        from google.protobuf import json_format

        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


def error_body(code: int, message: str, kind: str) -> bytes:
    """A ``google.rpc.Status`` (code, message) in the request's encoding."""
    rpc_code = _RPC_CODES.get(code, 2)  # 2: UNKNOWN
    if kind == JSON:
        return json.dumps({"code": rpc_code, "message": message}).encode()
    return b"\x08" + _varint(rpc_code) + _field(b"\x12", message.encode())


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """gzip / deflate bodies, refusing anything that inflates beyond ``limit`` (a small compressed body
    can expand to gigabytes)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise HttpError(415, f"content-encoding {encoding!r} is not supported (gzip, deflate)")
    # gzip; deflate as HTTP means it (zlib-wrapped), and raw deflate, which some clients send.
    for wbits in (16 + zlib.MAX_WBITS,) if encoding == "gzip" else (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error as error:
            problem = error
            continue
        if len(data) > limit or inflater.unconsumed_tail:
            raise HttpError(
                413,
                f"permanent: the request is larger than {limit} bytes decompressed; send smaller batches",
            )
        if not inflater.eof:
            raise HttpError(400, f"the {encoding} body is truncated")
        return data
    raise HttpError(400, f"cannot {encoding}-decode the body: {problem}")


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(item: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        value = item.get(key)
        if isinstance(value, str):
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                item[key] = ""  # not hex: an invalid id, which drops this item only (partial success)


def _list(item: Any, *keys: str) -> list[Any]:
    if not isinstance(item, dict):
        return []
    for key in keys:
        value = item.get(key)
        if isinstance(value, list):
            return [entry for entry in value if isinstance(entry, dict)]
    return []


def _items(document: dict[str, Any], resources: tuple[str, ...], scopes: tuple[str, ...], items: str) -> list:
    return [
        item
        for resource in _list(document, *resources)
        for scope in _list(resource, *scopes)
        for item in _list(scope, items, _snake(items))
    ]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


_METRIC_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def _with_ids(document: dict[str, Any], signal: str) -> list[dict[str, Any]]:
    """The objects of an OTLP JSON document that carry trace/span ids (hex in OTLP JSON)."""
    if signal == "traces":
        spans = _items(document, ("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), "spans")
        return spans + [link for span in spans for link in _list(span, "links")]
    if signal == "logs":
        return _items(document, ("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), "logRecords")
    metrics = _items(
        document, ("resourceMetrics", "resource_metrics"), ("scopeMetrics", "scope_metrics"), "metrics"
    )
    points = [
        point
        for metric in metrics
        for kind in _METRIC_KINDS
        if isinstance(metric.get(kind), dict)
        for point in _list(metric[kind], "dataPoints", "data_points")
    ]
    return [exemplar for point in points for exemplar in _list(point, "exemplars")]


def _request_class(signal: str) -> Any:
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        return ExportLogsServiceRequest
    if signal == "metrics":
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        return ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest


def parse_json(body: bytes) -> Any:
    """``json.loads``, refusing with 400 what it cannot take -- including nesting deeper than Python's
    recursion limit allows (a RecursionError must never cost the client its answer)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise HttpError(400, "the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError(400, f"the body is not JSON: {error}"[:500]) from None


def _json_to_protobuf(body: bytes | Any, signal: str = "traces") -> bytes:
    """An OTLP JSON request (bytes, or the document ``parse_json`` made of them) as protobuf bytes."""
    from google.protobuf import json_format

    document = parse_json(body) if isinstance(body, bytes | bytearray) else body
    if not isinstance(document, dict):
        raise HttpError(400, f"an OTLP JSON {signal} request is an object")
    for item in _with_ids(document, signal):
        _hex_ids_to_base64(item)
    request = _request_class(signal)()
    try:
        # json_format stops at 100 nested messages by default; go as deep as Python's recursion allows.
        json_format.ParseDict(document, request, ignore_unknown_fields=True, max_recursion_depth=3_000)
    except RecursionError:
        raise HttpError(400, "the JSON request is nested too deeply for this service") from None
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as error:
        raise HttpError(400, f"not an OTLP JSON {signal} request: {error}"[:500]) from None
    return request.SerializeToString()
