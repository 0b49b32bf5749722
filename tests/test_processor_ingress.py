"""The processor's ingress (issue 13, item 3): limits checked from the wire before any decoding, a memory
budget across requests, deep attribute values, OTLP/HTTP for logs and metrics, bounded and quiet HTTP."""

from __future__ import annotations

import gzip
import json
import socket
import threading

import grpc
import pytest
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from genai_otel.processor.limits import Limits, count_items
from genai_otel.processor.model import SpanRecord
from genai_otel.processor.otlp import enrich_request, export_request, parse, python_value
from genai_otel.processor.service import EXPORT_METHOD, ProcessorService
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .reliability.bad_input import RawReceiver, deep_json, deep_request, empty_spans
from .servers import wait_until


def _raw_http(port: int, request: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _post(port: int, path: str, body: bytes, kind: str = "application/x-protobuf", extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {kind}\r\nconnection: close\r\n{extra}"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return _raw_http(port, head.encode() + body)


# -- counting from the wire -------------------------------------------------------------------------------


def test_items_are_counted_from_the_wire_for_every_signal():
    traces = export_request({"a": 1}, 7).SerializeToString()
    assert count_items(traces, "traces", 1000) == 7
    assert count_items(empty_spans(300_000), "traces", 10) == 11  # stops counting past the limit
    logs = ExportLogsServiceRequest.FromString(
        json_to_protobuf_logs({"resourceLogs": [{"scopeLogs": [{"logRecords": [{}, {}, {}]}]}]})
    )
    assert count_items(logs.SerializeToString(), "logs", 100) == 3
    metrics = ExportMetricsServiceRequest()
    scope = metrics.resource_metrics.add().scope_metrics.add()
    scope.metrics.add().gauge.data_points.add()
    histogram = scope.metrics.add().histogram
    histogram.data_points.add()
    histogram.data_points.add()
    assert count_items(metrics.SerializeToString(), "metrics", 100) == 3
    assert count_items(b"\x0a\xff\xff", "traces", 100) == 0  # malformed: counted as far as it goes


def json_to_protobuf_logs(document: dict) -> bytes:
    from genai_otel.processor.otlp_http import _json_to_protobuf

    return _json_to_protobuf(document, "logs")


# -- deep attribute values ---------------------------------------------------------------------------------


def test_kvlists_deeper_than_the_protobuf_default_decode_and_convert_without_recursion():
    # protobuf's C decoder stops at 100 nested messages: 31 kvlist levels
    with pytest.raises(DecodeError):
        ExportTraceServiceRequest.FromString(deep_request(200))
    request = parse(ExportTraceServiceRequest, deep_request(200))
    value = request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value
    converted = python_value(value)
    depth = 0
    while isinstance(converted, dict):
        converted, depth = converted["k"], depth + 1
    # 30 levels as Python values, the rest as JSON text (no RecursionError at any depth)
    assert depth == 30 and json.loads(converted) is not None and converted.count('{"k":') == 170
    with pytest.raises(DecodeError, match="deeper than"):
        parse(ExportTraceServiceRequest, deep_request(5000))  # over the cap: refused, never decoded
    with pytest.raises(DecodeError):
        parse(ExportTraceServiceRequest, b"\x0a\x05junk")


def test_json_kvlists_decode_as_deep_as_python_allows_and_beyond_that_get_a_400():
    from genai_otel.processor.otlp_http import HttpError, _json_to_protobuf

    def deep(levels: int) -> bytes:
        value = '{"stringValue":"leaf"}'
        for _ in range(levels):
            value = '{"kvlistValue":{"values":[{"key":"k","value":' + value + "}]}}"
        span = '{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"d",'
        span += '"attributes":[{"key":"deep","value":' + value + "}]}"
        return ('{"resourceSpans":[{"scopeSpans":[{"spans":[' + span + "]}]}]}").encode()

    raw = _json_to_protobuf(deep(100))  # json_format's own default stops at 33
    assert parse(ExportTraceServiceRequest, raw).resource_spans[0].scope_spans[0].spans[0].name == "d"
    for levels in (1000, 10_000):
        with pytest.raises(HttpError, match="nested too deep") as refused:
            _json_to_protobuf(deep(levels))
        assert refused.value.code == 400


def test_deep_values_survive_enrichment_unchanged_or_as_text():
    raw = deep_request(300)
    request = parse(ExportTraceServiceRequest, raw)
    enrich_request(request, lambda records: None)
    assert request.SerializeToString() == raw  # nothing changed: written back untouched

    def rename(records: list[SpanRecord]) -> None:
        records[0].attributes["extra"] = 1  # the span changes: its deep value is re-encoded as text

    enrich_request(request, rename)
    attributes = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert attributes["extra"].int_value == 1
    assert python_value(attributes["deep"]) == python_value(
        parse(ExportTraceServiceRequest, raw).resource_spans[0].scope_spans[0].spans[0].attributes[0].value
    )


# -- gRPC: limits, budget, answers ---------------------------------------------------------------------------


def test_grpc_refuses_too_many_spans_permanently_and_an_exhausted_budget_retryably(tmp_path):
    limits = Limits(max_items=1000, memory_budget_bytes=1 << 20, budget_wait_seconds=0.1)
    with (
        RawReceiver() as downstream,
        ProcessorService(
            "127.0.0.1:0", f"127.0.0.1:{downstream.port}", tmp_path / "spool", limits=limits
        ) as service,
        grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel,
    ):
        export = channel.unary_unary(EXPORT_METHOD)
        with pytest.raises(grpc.RpcError) as refused:
            export(empty_spans(5000), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "permanent" in refused.value.details() and "1000" in refused.value.details()
        export(export_request({"a": 1}, 10).SerializeToString(), timeout=10)  # a small one goes through
        held = service.admission.reserve(1 << 20)  # the whole budget, held by "another request"
        try:
            with pytest.raises(grpc.RpcError) as busy:
                export(export_request({"a": 1}, 10).SerializeToString(), timeout=10)
        finally:
            service.admission.release(held)
        assert busy.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = dict(busy.value.trailing_metadata())["grpc-status-details-bin"]
        retry = error_details_pb2.RetryInfo()
        assert status_pb2.Status.FromString(details).details[0].Unpack(retry)
        assert retry.retry_delay.seconds == 1  # the exporters' cue that this one is retryable
        wait_until(lambda: downstream.spans() == 10)
        assert service.admission.budget.used == 0


# -- OTLP/HTTP ----------------------------------------------------------------------------------------------


@pytest.fixture
def http_service(tmp_path):
    limits = Limits(max_items=1000, max_http_connections=4, http_idle_seconds=1.0, http_header_seconds=0.5)
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService(
            "127.0.0.1:0", forward, tmp_path / "spool", http_listen="127.0.0.1:0", limits=limits
        ) as service:
            yield service, downstream


def test_http_bombs_and_deep_json_get_clear_answers(http_service):
    service, _ = http_service
    port = service.http_port
    bomb = gzip.compress(empty_spans(2_000_000), 9)  # 6 KB
    answer = _post(port, "/v1/traces", bomb, extra="content-encoding: gzip\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"permanent" in answer
    answer = _post(port, "/v1/traces", deep_json(10_000), "application/json")
    assert answer.startswith(b"HTTP/1.1 400") and b"nested too deep" in answer
    json_bomb = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{}] * 5000}]}]}).encode()
    assert _post(port, "/v1/traces", json_bomb, "application/json").startswith(b"HTTP/1.1 413")
    valid = export_request({"a": 1}).SerializeToString()
    assert _post(port, "/v1/traces", valid).startswith(b"HTTP/1.1 200")  # still serving


def test_http_serves_logs_and_metrics_in_json_with_hex_ids(http_service):
    service, downstream = http_service
    trace_hex, span_hex = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    logs = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "traceId": trace_hex,
                                "spanId": span_hex,
                                "eventName": "gen_ai.evaluation.result",
                                "body": {"stringValue": "fine"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    metrics = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "gen_ai.client.token.usage",
                                "sum": {
                                    "dataPoints": [
                                        {
                                            "asInt": "12",
                                            "exemplars": [
                                                {"traceId": trace_hex, "spanId": span_hex, "asInt": "12"}
                                            ],
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }
    for path, document in (("/v1/logs", logs), ("/v1/metrics", metrics)):
        answer = _post(service.http_port, path, json.dumps(document).encode(), "application/json")
        assert answer.startswith(b"HTTP/1.1 200"), answer
    wait_until(lambda: downstream.log_requests and downstream.metric_requests)
    log = downstream.log_requests[0].resource_logs[0].scope_logs[0].log_records[0]
    assert (log.trace_id.hex(), log.span_id.hex(), log.body.string_value) == (trace_hex, span_hex, "fine")
    metric = downstream.metric_requests[0].resource_metrics[0].scope_metrics[0].metrics[0]
    exemplar = metric.sum.data_points[0].exemplars[0]
    assert (exemplar.trace_id.hex(), exemplar.span_id.hex()) == (trace_hex, span_hex)
    too_many = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{}] * 1001}]}]}
    answer = _post(service.http_port, "/v1/logs", json.dumps(too_many).encode(), "application/json")
    assert answer.startswith(b"HTTP/1.1 413")


def test_http_connections_are_capped_timed_out_and_quiet(http_service, capfd):
    service, _ = http_service
    port = service.http_port
    # a slow client is cut off at the header deadline instead of holding its thread
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.sendall(b"POST /v1/traces HTTP/1.1\r\n")
    assert slow.recv(100) == b""  # closed by the server
    slow.close()
    # beyond the cap a connection is refused at once, retryably; the served ones keep working
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    wait_until(lambda: threading.active_count() >= 4)
    extra = socket.create_connection(("127.0.0.1", port), timeout=10)
    refused = extra.recv(1000)
    assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in refused
    extra.close()
    for connection in idle:  # rude goodbyes: resets
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.close()
    valid = export_request({"a": 1}).SerializeToString()
    wait_until(lambda: _post(port, "/v1/traces", valid).startswith(b"HTTP/1.1 200"))
    # a body that stops half-way gets a 408 once its deadline passes
    answer = _raw_http(port, b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhalf")
    assert answer.startswith(b"HTTP/1.1 408")
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception" not in captured.err


def test_unknown_paths_are_404(http_service):
    service, _ = http_service
    assert _post(service.http_port, "/v1/other", b"x").startswith(b"HTTP/1.1 404")


def test_the_processor_command_takes_the_limits_as_flags(tmp_path):
    """`genai-otel processor --max-items N` reaches the running service (and its workers' command lines)."""
    import subprocess
    import sys

    from genai_otel.processor.limits import to_arguments
    from genai_otel.testing.net import free_port, wait_for_port

    assert to_arguments(Limits(max_items=7))[to_arguments(Limits()).index("--max-items") + 1] == "7"
    port = free_port()
    command = [sys.executable, "-m", "genai_otel.cli", "processor", "--listen", f"127.0.0.1:{port}"]
    command += ["--forward", f"127.0.0.1:{free_port()}", "--spool", str(tmp_path / "spool")]
    command += ["--max-items", "5"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 120, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(EXPORT_METHOD)
            export(export_request({"gen_ai.operation.name": "chat"}, 5).SerializeToString(), timeout=30)
            with pytest.raises(grpc.RpcError) as refused:
                export(export_request({"gen_ai.operation.name": "chat"}, 6).SerializeToString(), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "permanent" in refused.value.details()
    finally:
        process.terminate()
        process.wait(30)
