"""The processor service over real gRPC: enrichment, no loss across a downstream outage and a restart,
clear errors for bad input."""

from __future__ import annotations

import json
import threading

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from genai_otel import semconv as sc
from genai_otel.processor.otlp import export_request
from genai_otel.processor.service import EXPORT_METHOD, ProcessorService
from genai_otel.testing.conformance import span_view
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .servers import free_port, wait_until
from .test_processor import OPENLLMETRY

CHAT = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai"}


def _send(endpoint: str, count: int, attributes: dict) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    tracer = provider.get_tracer("app")
    for i in range(count):
        with tracer.start_as_current_span(f"openai.chat {i}", attributes=attributes):
            pass
    provider.shutdown()


def test_spans_are_enriched_on_the_way_through(tmp_path):
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as service:
            _send(f"127.0.0.1:{service.port}", 1, OPENLLMETRY)
            wait_until(lambda: len(downstream.spans()) == 1)
    [(_scope, span)] = downstream.spans()
    a = span_view(span).attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai" and a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[sc.GENAI_OTEL_USAGE_COST] > 0
    assert "jane.doe@example.com" not in a[sc.GEN_AI_INPUT_MESSAGES]
    assert not any(k.startswith("llm.") for k in a)


def test_repeated_tool_calls_in_one_trace_are_flagged_across_requests(tmp_path):
    tool = {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_TOOL_NAME: "search"}
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as service:
            provider = TracerProvider()  # one export request per span: the rule groups them by trace id
            exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.port}", insecure=True)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            tracer = provider.get_tracer("app")
            with tracer.start_as_current_span("invoke_agent looper"):
                for _ in range(4):
                    with tracer.start_as_current_span("execute_tool search", attributes=tool):
                        pass
            provider.shutdown()
            wait_until(lambda: len(downstream.spans()) == 5)
    tools = [span_view(span) for _, span in downstream.spans() if span.name == "execute_tool search"]
    assert [v.attributes.get(sc.GENAI_OTEL_LOOP_REPEATS) for v in tools] == [None, None, 3, 4]


def test_no_loss_across_a_downstream_outage_and_a_processor_restart(tmp_path):
    spool = tmp_path / "spool"
    downstream_port = free_port()  # nothing listens there yet: the downstream is down
    first = ProcessorService("127.0.0.1:0", f"127.0.0.1:{downstream_port}", spool).start()
    _send(f"127.0.0.1:{first.port}", 25, CHAT)
    first.stop(drain_seconds=0.5)  # cannot drain: the spool keeps everything acknowledged
    assert len(first.spool) > 0
    receiver = OtlpReceiver(port=downstream_port)
    with receiver, ProcessorService("127.0.0.1:0", f"127.0.0.1:{downstream_port}", spool):
        wait_until(lambda: len(receiver.spans()) == 25)
    assert [span.name for _, span in receiver.spans()] == [f"openai.chat {i}" for i in range(25)]


def test_a_full_memory_queue_spills_to_disk_in_order_and_nothing_is_lost(tmp_path):
    spool = tmp_path / "spool"
    downstream_port = free_port()  # down
    # Room for about two requests in memory: the rest spill to the spool while the downstream is down.
    first = ProcessorService("127.0.0.1:0", f"127.0.0.1:{downstream_port}", spool, max_memory_bytes=800)
    first.start()
    _send(f"127.0.0.1:{first.port}", 12, CHAT)
    assert first.counters.spilled >= 8 and first.queue.in_memory >= 1
    first.stop(drain_seconds=0.3)  # what is still in memory joins the spool
    assert len(first.spool) == 12 and first.queue.in_memory == 0
    receiver = OtlpReceiver(port=downstream_port)
    with receiver, ProcessorService("127.0.0.1:0", f"127.0.0.1:{downstream_port}", spool) as second:
        wait_until(lambda: len(receiver.spans()) == 12)
        wait_until(lambda: len(second.spool) == 0)
    # Arrival order, across the restart: what was in memory is older than the backlog on disk.
    assert [span.name for _, span in receiver.spans()] == [f"openai.chat {i}" for i in range(12)]


def test_durable_mode_has_every_request_on_disk_before_the_answer(tmp_path):
    service = ProcessorService("127.0.0.1:0", f"127.0.0.1:{free_port()}", tmp_path / "spool", durable=True)
    service.start()
    try:
        _send(f"127.0.0.1:{service.port}", 5, {sc.GEN_AI_OPERATION_NAME: "chat"})
        # the downstream is down: all five are on disk, none only in memory
        assert len(service.spool) == 5 and service.queue.in_memory == 0
    finally:
        service.stop(drain_seconds=0.2)
    with OtlpReceiver() as downstream:  # a restart with the downstream up sends the spool, counted
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as resumed:
            wait_until(lambda: resumed.counters.forwarded == 5 and not len(resumed.spool))
        assert len(downstream.spans()) == 5


def test_durable_requests_arriving_together_share_one_fsync_and_survive_a_restart(tmp_path):
    """Group commit: requests that arrive while a group is being fsynced are written and fsynced together
    (one segment file each group), every caller returns after the fsync that covers its request, and a
    fresh spool on the directory reads them back in arrival order."""
    from genai_otel.processor.queue import Queue

    queue = Queue(tmp_path, 1 << 30, 0, durable=True)
    requests = [export_request(CHAT, 1, f"chat {i}", i).SerializeToString() for i in range(16)]
    answers: list[str | None] = []
    with queue._lock:  # held: the 16 callers queue up together, as under load during an fsync
        threads = [threading.Thread(target=lambda r=r: answers.append(queue.put(r, 1))) for r in requests]
        for thread in threads:
            thread.start()
        wait_until(lambda: all(t.ident for t in threads))
    for thread in threads:
        thread.join()
    assert answers == ["spool"] * 16 and len(queue.spool) == 16
    segments = list(tmp_path.glob("*.seg"))
    assert 1 <= len(segments) < 16  # fewer fsyncs than requests
    again = Queue(tmp_path, 1 << 30, 0, durable=True)
    assert len(again.spool) == 16
    read = []
    while (item := again.next(timeout=0)) is not None:
        read.append(item.data)
        again.done(item)
    assert sorted(read) == sorted(requests) and not list(tmp_path.iterdir())


def test_a_segment_keeps_what_was_delivered_and_drops_a_torn_tail(tmp_path):
    """After a crash: records of a group already delivered are not sent again (the delivered prefix in
    the segment's header), what is left of a partly sent record replaces it, and a record cut short by
    the crash (never acknowledged: the fsync had not returned) is ignored, not read as garbage."""
    from genai_otel.processor.queue import Queue

    queue = Queue(tmp_path, 1 << 30, 0, durable=True)
    requests = [export_request(CHAT, 1, f"chat {i}", i).SerializeToString() for i in range(3)]
    queue.spool._next = 10
    first = queue.spool.reserve_sequences(3)
    records = [(first + i, "traces", r, 1) for i, r in enumerate(requests)]
    from genai_otel.processor.queue import _write_segment

    path = tmp_path / f"{first:016d}.seg"
    with queue._lock:
        queue.spool.add_segment(path, records, _write_segment(path, records))
    item = queue.next(timeout=0)
    assert item.data == requests[0]
    queue.done(item)  # delivered: only the header changes, the segment stays for the other two
    partly = queue.next(timeout=0)
    rest = export_request(CHAT, 1, "the part not yet sent", 7).SerializeToString()
    queue.replace(partly, rest, 1)  # what is left of a partly sent record overrides it, atomically
    with open(path, "r+b") as handle:  # a crash while the last record was being written
        handle.truncate(path.stat().st_size - 5)
    again = Queue(tmp_path, 1 << 30, 0, durable=True)
    assert again.next(timeout=0).data == rest and len(again.spool) == 1


def test_malformed_protobuf_is_invalid_argument_and_the_service_keeps_serving(tmp_path):
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as service:
            with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                call = channel.unary_unary(EXPORT_METHOD)
                with pytest.raises(grpc.RpcError) as caught:
                    call(b"\xff\xff\xff not protobuf", timeout=5)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert service.counters.rejected == 1
            _send(f"127.0.0.1:{service.port}", 1, {sc.GEN_AI_OPERATION_NAME: "chat"})
            wait_until(lambda: len(downstream.spans()) == 1)


def test_spans_with_bad_ids_are_a_partial_success_and_the_rest_goes_on(tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    request = export_request(OPENLLMETRY, count=4)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].trace_id = b"\x01\x02"  # not 16 bytes
    spans[2].span_id = bytes(8)  # all zero
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as service:
            with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                call = channel.unary_unary(
                    EXPORT_METHOD, response_deserializer=ExportTraceServiceResponse.FromString
                )
                answer = call(request.SerializeToString(), timeout=5)
            wait_until(lambda: len(downstream.spans()) == 2)
            assert service.counters.rejected == 2 and service.counters.received == 2
    assert answer.partial_success.rejected_spans == 2
    assert "invalid trace or span id" in answer.partial_success.error_message
    # the good spans arrive enriched
    assert all(span_view(span).attributes[sc.GENAI_OTEL_USAGE_COST] > 0 for _, span in downstream.spans())


def _post(url: str, body: bytes, kind: str, encoding: str | None = None) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    headers = {"content-type": kind, **({"content-encoding": encoding} if encoding else {})}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["content-type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def _json_value(value) -> dict:
    """An AnyValue in OTLP JSON (64-bit integers as strings)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def test_otlp_http_in_protobuf_and_json_gzip_or_not(tmp_path):
    import gzip

    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    trace_hex = "5b8efff798038103d269b633813fc60c"
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-app"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "js"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "eee19b7ec3c1b174",
                                "name": "openai.chat",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [
                                    {"key": k, "value": _json_value(v)} for k, v in OPENLLMETRY.items()
                                ],
                                "futureField": "ignored",  # receivers ignore unknown fields
                            },
                            {"traceId": "not hex", "spanId": "eee19b7ec3c1b175", "name": "bad ids"},
                        ],
                    }
                ],
            }
        ]
    }
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService(
            "127.0.0.1:0", forward, tmp_path / "spool", http_listen="127.0.0.1:0"
        ) as service:
            url = f"http://127.0.0.1:{service.http_port}/v1/traces"
            provider = TracerProvider()  # the real OTLP/HTTP exporter, gzip-compressed protobuf
            provider.add_span_processor(
                SimpleSpanProcessor(HttpExporter(endpoint=url, compression=Compression.Gzip))
            )
            with provider.get_tracer("app").start_as_current_span("http span", attributes=OPENLLMETRY):
                pass
            provider.shutdown()
            plain = json.dumps(document).encode()
            code, kind, body = _post(url, plain, "application/json")
            assert (code, kind) == (200, "application/json")
            assert json.loads(body)["partialSuccess"]["rejectedSpans"] == "1"  # the span with a non-hex id
            code, kind, body = _post(url, gzip.compress(plain), "application/json; charset=utf-8", "gzip")
            assert code == 200 and json.loads(body)["partialSuccess"]["rejectedSpans"] == "1"
            wait_until(lambda: len(downstream.spans()) == 3)
    views = [span_view(span) for _, span in downstream.spans()]
    assert all(v.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai" for v in views)
    from_json = [span for _, span in downstream.spans() if span.trace_id.hex() == trace_hex]
    assert len(from_json) == 2 and all(
        span.kind == 3 and span.span_id.hex() == "eee19b7ec3c1b174" for span in from_json
    )


def _raw_http(port: int, headers_and_body: bytes) -> bytes:
    """A hand-written POST /v1/traces (headers the usual clients never send), and the raw answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n"
            + b"connection: close\r\n"
            + headers_and_body
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_otlp_http_errors_are_clear_status_answers(tmp_path):
    """Bad bodies get 4xx with a google.rpc.Status in the request's encoding, and the service keeps
    serving: junk protobuf, bad JSON, other media types or encodings, a decompression bomb."""
    import gzip
    import zlib

    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService(
            "127.0.0.1:0", forward, tmp_path / "spool", http_listen="127.0.0.1:0"
        ) as service:
            base = f"http://127.0.0.1:{service.http_port}"
            url = f"{base}/v1/traces"
            bomb = gzip.compress(bytes(80 << 20))  # 80 MB of zeros in ~80 KB
            for body, kind, encoding, status in (
                (b"\xff\xfe junk", "application/x-protobuf", None, 400),
                (b"{not json", "application/json", None, 400),
                (
                    b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": {"not": "text"}}]}]}]}',
                    "application/json",
                    None,
                    400,
                ),
                (b"[]", "application/json", None, 400),
                (b"hello", "text/plain", None, 415),
                (b"x", "application/x-protobuf", "br", 415),
                (b"not gzip", "application/x-protobuf", "gzip", 400),
                (gzip.compress(VALID)[:-8], "application/x-protobuf", "gzip", 400),  # truncated
                (bomb, "application/x-protobuf", "gzip", 413),
            ):
                code, answer_kind, answer = _post(url, body, kind, encoding)
                assert code == status, (body[:40], code, answer)
                if "json" in kind:
                    assert answer_kind == "application/json" and json.loads(answer)["code"] == 3
                else:
                    assert answer_kind == "application/x-protobuf" and answer.startswith(b"\x08")
                    assert answer[2] == 0x12 and len(answer[4:]) > 10  # code, then the message
            assert _post(f"{base}/v1/profiles", VALID, "application/x-protobuf")[0] == 404
            assert _raw_http(service.http_port, b"content-length: many\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _raw_http(service.http_port, b"\r\n").startswith(b"HTTP/1.1 411")  # no length
            chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (VALID[:10], VALID[10:]))
            chunked = b"transfer-encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
            answer = _raw_http(service.http_port, chunked)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            deflated = zlib.compress(VALID)
            assert _post(url, deflated, "application/x-protobuf", "deflate")[0] == 200  # still serving
            wait_until(lambda: len(downstream.spans()) == 2)  # chunked and deflated


# -- the decoder under fuzzing: any bytes get a clear answer, never a crash ---------------------------


VALID = export_request(
    {
        "gen_ai.system": "openai",
        "gen_ai.usage.prompt_tokens": 12,
        "odd.list": [1.5],
        "odd.map": {"k": True},
    }
).SerializeToString()


# Key names of OTLP JSON trace requests, so generated documents get past the top level.
_OTLP_KEYS = [
    "resourceSpans", "scopeSpans", "spans", "resource", "attributes", "key", "value", "stringValue",
    "intValue", "arrayValue", "values", "traceId", "spanId", "parentSpanId", "name", "kind", "events",
    "links", "status", "code", "startTimeUnixNano", "scope",
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory):
    service = ProcessorService("127.0.0.1:0", f"127.0.0.1:{free_port()}", tmp_path_factory.mktemp("spool"))
    yield service  # not started: ingest() is what the receivers call


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_random_bytes_get_ok_or_invalid(fuzz_service, raw):
    outcome = fuzz_service.ingest(raw)
    assert outcome.status in ("ok", "invalid") and (outcome.status == "ok" or outcome.message)
    assert outcome.status == "ok" or not outcome.rejected_spans


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6))
def test_mutated_requests_get_ok_or_invalid(fuzz_service, flips):
    raw = bytearray(VALID)
    for index, byte in flips:
        raw[index] = byte
    outcome = fuzz_service.ingest(bytes(raw))
    assert outcome.status in ("ok", "invalid")


_JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_OTLP_KEYS), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_JSON, st.sampled_from([None, "gzip", "deflate"]))
def test_any_json_document_gets_a_request_or_a_clear_http_error(fuzz_service, document, encoding):
    """OTLP/HTTP JSON bodies shaped like OTLP (its key names, any values), maybe compressed: decoding
    gives protobuf the service takes, or an HttpError with a status -- never another exception."""
    import gzip
    import zlib

    from genai_otel.processor.otlp_http import HttpError, decode_request

    body = json.dumps(document).encode()
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    try:
        raw = decode_request(body, "application/json", encoding, 1 << 20)
    except HttpError as error:
        assert error.code in (400, 413) and str(error)
        return
    assert fuzz_service.ingest(raw).status in ("ok", "invalid")


def test_unexpected_attribute_types_survive_enrichment(fuzz_service):
    from genai_otel.processor.model import apply_rules_to_batch
    from genai_otel.processor.otlp import enrich_request
    from genai_otel.processor.rules import default_rules

    request = ExportTraceServiceRequest.FromString(VALID)
    enrich_request(request, lambda records: apply_rules_to_batch(records, default_rules()))
    attributes = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert attributes["gen_ai.provider.name"].string_value == "openai"
    assert attributes["gen_ai.usage.input_tokens"].int_value == 12
    assert attributes["odd.list"].array_value.values[0].double_value == 1.5
    assert attributes["odd.map"].kvlist_value.values[0].value.bool_value is True


def _prometheus(url: str) -> dict[str, float]:
    """A Prometheus text scrape as {metric: value}, checking every sample has its HELP and TYPE."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("text/plain")
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            assert f"# TYPE {name.removesuffix('_total')}" in text or f"# TYPE {name} " in text, name
            samples[name] = float(value)
    return samples


def test_the_service_reports_its_own_metrics(tmp_path):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService(
            "127.0.0.1:0",
            forward,
            tmp_path / "spool",
            meter_provider=MeterProvider(metric_readers=[reader]),
            metrics_listen="127.0.0.1:0",
        ) as service:
            before = {name: service.metric_value(name) for name in ("keys_dropped", "values_shortened")}
            # One span with a key and a non-content value over the limit rule's caps: counted as cut.
            hostile = {sc.GEN_AI_OPERATION_NAME: "chat", "k" * 1000: "v", "app.note": "x" * 100_000}
            _send(f"127.0.0.1:{service.port}", 1, hostile)
            _send(f"127.0.0.1:{service.port}", 2, {sc.GEN_AI_OPERATION_NAME: "chat"})
            wait_until(lambda: len(downstream.spans()) == 3)
            wait_until(lambda: service.counters.forwarded == 3)
            data = reader.get_metrics_data()
            scrape = _prometheus(f"http://127.0.0.1:{service.metrics_port}/metrics")
            assert _post(f"http://127.0.0.1:{service.metrics_port}/other", b"", "text/plain")[0] in (404, 501)
    assert scrape["genai_otel_processor_received_total"] == 3
    assert scrape["genai_otel_processor_forwarded_total"] == 3
    assert scrape["genai_otel_processor_rejected_total"] == 0 and scrape["genai_otel_processor_queued"] == 0
    assert scrape["genai_otel_processor_keys_dropped_total"] >= before["keys_dropped"] + 1
    assert scrape["genai_otel_processor_values_shortened_total"] >= before["values_shortened"] + 1
    assert "genai_otel_processor_rule_failures_total" in scrape
    cut = next(
        {kv.key: kv.value for kv in span.attributes}
        for _, span in downstream.spans()
        if span.name == "openai.chat 0" and any(kv.key == "app.note" for kv in span.attributes)
    )
    assert "k" * 1000 not in cut and len(cut["app.note"].string_value) < 5000
    values = {
        m.name: m.data.data_points[0].value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert values["genai_otel.processor.received"] == 3 and values["genai_otel.processor.forwarded"] == 3
    assert values["genai_otel.processor.rejected"] == 0 and values["genai_otel.processor.spooled"] == 0


class _OutputWatch:
    """Collects a process's output on a thread, so a silent process fails a wait instead of hanging it."""

    def __init__(self, process) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True)
        self._reader.start()

    def wait_for(self, text: str, count: int) -> None:
        wait_until(lambda: "".join(self.lines).count(text) >= count)

    def text(self) -> str:
        self._reader.join(timeout=10)
        return "".join(self.lines)


def _two_free_ports() -> int:
    """A free port whose next port is free too (the second worker's metrics port)."""
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


def test_worker_processes_share_the_port_and_lose_nothing(tmp_path):
    import signal
    import subprocess
    import sys

    from .servers import wait_for_port

    port, metrics_port = free_port(), _two_free_ports()
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genai_otel.cli",
                "processor",
                "--listen",
                f"127.0.0.1:{port}",
                "--forward",
                forward,
                "--spool",
                str(tmp_path / "spool"),
                "--workers",
                "2",
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = _OutputWatch(process)
        try:
            wait_for_port(port, 30, process)
            output.wait_for("genai-otel processor: OTLP/gRPC", 2)  # both workers listen, not just the first
            for _ in range(4):  # separate exporters: separate connections the kernel spreads over workers
                _send(f"127.0.0.1:{port}", 5, {sc.GEN_AI_OPERATION_NAME: "chat"})
            wait_until(lambda: len(downstream.spans()) == 20)
            scrapes = [_prometheus(f"http://127.0.0.1:{metrics_port + i}/metrics") for i in range(2)]
            assert sum(scrape["genai_otel_processor_received_total"] for scrape in scrapes) == 20
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert process.returncode == 0, output.text()
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["worker-0", "worker-1"]


# -- the configuration file --------------------------------------------------------------------------


def test_config_file_chooses_rules_options_and_evaluators(tmp_path):
    from genai_otel.processor.config_file import ConfigError, from_dict, load

    path = tmp_path / "processor.yaml"
    path.write_text(
        "rules:\n"
        "  - normalize\n"
        "  - loop_flags: {threshold: 2}\n"
        "  - redact: {mode: hash}\n"
        "evaluation:\n"
        "  operations: [chat]\n"
        "  evaluators: [refusal, {json_output: {}}]\n"
    )
    config = load(str(path))
    assert [rule.name for rule in config.rules] == ["normalize", "loop_flags", "redact"]
    assert config.rules[1].threshold == 2 and config.rules[2].mode == "hash"
    assert [e.name for e in config.evaluators] == ["refusal", "json_output"]
    assert [rule.name for rule in load(None).rules] == [
        "normalize",
        "cost",
        "loop_flags",
        "limit",
        "redact",
        "limit",
    ]
    with pytest.raises(ConfigError, match="unknown rule 'sample'"):
        from_dict({"rules": ["sample"]})
    with pytest.raises(ConfigError, match="loop_flags"):
        from_dict({"rules": [{"loop_flags": {"treshold": 2}}]})


def test_cli_refuses_a_bad_config_before_listening(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "bad.yaml"
    path.write_text("rules: [nonsense]\n")
    command = [
        sys.executable,
        "-m",
        "genai_otel.cli",
        "processor",
        "--forward",
        "127.0.0.1:1",
        "--config",
        str(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown rule 'nonsense'" in done.stderr


def test_service_evaluates_accepted_spans_and_sends_results_downstream(tmp_path):
    from genai_otel.processor.config_file import from_dict

    refused = json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": "I can't help with that."}]}]
    )
    answered = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}]}])
    config = from_dict({"evaluation": {"operations": ["chat"], "evaluators": ["refusal"]}})
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool", config=config) as service:
            provider = TracerProvider()
            exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.port}", insecure=True)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            tracer = provider.get_tracer("app")
            for output in (refused, answered):
                attributes = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_OUTPUT_MESSAGES: output}
                with tracer.start_as_current_span("chat m", attributes=attributes):
                    pass
            with tracer.start_as_current_span(
                "embeddings m", attributes={sc.GEN_AI_OPERATION_NAME: "embeddings"}
            ):
                pass
            provider.shutdown()
            wait_until(lambda: len(downstream.spans()) == 3)
        # stop() drained the evaluations and flushed their events
        events = downstream.logs()
    spans = {span.span_id: span for _, span in downstream.spans()}
    assert len(events) == 2
    by_label = {}
    for event in events:
        attributes = {kv.key: kv.value for kv in event.attributes}
        assert event.event_name == sc.EVENT_GEN_AI_EVALUATION_RESULT
        assert spans[event.span_id].name == "chat m" and event.trace_id == spans[event.span_id].trace_id
        by_label[attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL].string_value] = attributes
    assert by_label["refused"][sc.GEN_AI_EVALUATION_SCORE_VALUE].double_value == 1.0
    assert by_label["answered"][sc.GEN_AI_EVALUATION_NAME].string_value == "refusal"


# -- delivery: poison requests, permanent errors, a full disk (issue 13 items 1 and 2) ----------------


def test_a_poison_request_is_split_to_fit_and_the_queue_keeps_flowing(tmp_path):
    """A 4.7 MB request (512 spans, 16 KB prompts) to a next hop with the standard 4 MiB limit: split on
    span boundaries, delivered, and the 2,000 spans after it too; a spool written before (an oversized
    request at its head, old file name) is split on restart instead of blocking it."""
    from .reliability.delivery import LIMIT, Downstream, poison_request, trace_ids

    spool = tmp_path / "spool"
    spool.mkdir()
    legacy = poison_request(first=50_000_000)
    (spool / "0000000000000000.pb").write_bytes(legacy.SerializeToString())  # before logs/metrics
    poison = poison_request(first=10_000_000)
    assert poison.ByteSize() > LIMIT
    following = [export_request(CHAT, 100, "after", n) for n in range(0, 2000, 100)]
    with Downstream() as downstream, ProcessorService("127.0.0.1:0", downstream.address, spool) as service:
        options = [("grpc.max_send_message_length", 64 << 20)]
        with grpc.insecure_channel(f"127.0.0.1:{service.port}", options=options) as channel:
            call = channel.unary_unary(EXPORT_METHOD)
            for request in [poison, *following]:
                call(request.SerializeToString(), timeout=10)
        wait_until(lambda: len(downstream.trace_ids()) == 2 * 512 + 2000)
        wait_until(lambda: len(service.spool) == 0)
        assert service.counters.dead_lettered == 0
    expected = trace_ids(legacy) + [t for r in [poison, *following] for t in trace_ids(r)]
    assert downstream.trace_ids() == expected  # every span once, in order
    assert max(request.ByteSize() for request in downstream.of()) <= LIMIT


def test_permanent_downstream_errors_go_to_the_dead_letter_directory_once(tmp_path, caplog):
    """The next hop refuses one request for good (INVALID_ARGUMENT), and one with RESOURCE_EXHAUSTED
    without RetryInfo (permanent per the OTLP specification); a single span over the send limit cannot
    be sent at all. Each is dead-lettered and logged once, counted, never retried, not resurrected by a
    restart; everything else flows. UNAVAILABLE is retried."""
    from .reliability.delivery import Downstream

    answers = {
        "refuse-invalid": grpc.StatusCode.INVALID_ARGUMENT,
        "refuse-busy": grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    calls: list[str] = []

    def refuse(signal, request):
        name = request.resource_spans[0].scope_spans[0].spans[0].name
        calls.append(name)
        if name == "flaky" and calls.count("flaky") == 1:
            return grpc.StatusCode.UNAVAILABLE
        return answers.get(name)

    spool = tmp_path / "spool"
    small_limit = 64 << 10  # a 100 KB span (no rules: nothing cuts it) cannot be sent
    with (
        Downstream(refuse=refuse) as downstream,
        ProcessorService(
            "127.0.0.1:0", downstream.address, spool, rules=[], max_send_bytes=small_limit
        ) as service,
    ):
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            call = channel.unary_unary(EXPORT_METHOD)
            for n, name in enumerate(["refuse-invalid", "flaky", "refuse-busy", "ok"]):
                call(export_request(CHAT, 2, name, n * 10).SerializeToString(), timeout=10)
            huge = export_request({**CHAT, "x.blob": "b" * (100 << 10)}, 1, "huge", 100)
            call(huge.SerializeToString(), timeout=10)
        wait_until(lambda: len(downstream.trace_ids()) == 4)
        wait_until(lambda: service.counters.dead_lettered == 3)
        metrics = service.prometheus_text()
    assert calls.count("refuse-invalid") == 1 and calls.count("refuse-busy") == 1  # not retried
    assert calls.count("flaky") == 2  # retried once, then delivered
    assert {name for name in calls if name not in answers} == {"flaky", "ok"}
    assert {span.name for _, span in _spans_of(downstream)} == {"flaky", "ok"}
    assert "genai_otel_processor_dead_lettered_total 3" in metrics
    dead = sorted(p.name for p in (spool / "dead-letter").glob("*.pb"))
    assert len(dead) == 3 and all(name.endswith(".traces.pb") for name in dead)
    reasons = " ".join(p.read_text() for p in (spool / "dead-letter").glob("*.txt"))
    assert "INVALID_ARGUMENT" in reasons and "RESOURCE_EXHAUSTED" in reasons and "max-send-bytes" in reasons
    logged = [r for r in caplog.records if "will not be forwarded" in r.getMessage()]
    assert len(logged) == 3  # once per request
    # a restart: nothing dead comes back
    with (
        Downstream(refuse=refuse) as downstream,
        ProcessorService("127.0.0.1:0", downstream.address, spool) as again,
    ):
        assert len(again.spool) == 0
    assert not downstream.requests


def test_a_gzip_http_request_that_inflates_past_the_limit_is_split(tmp_path):
    import gzip

    from .reliability.delivery import LIMIT, Downstream, poison_request, trace_ids

    poison = poison_request()
    body = gzip.compress(poison.SerializeToString())
    assert len(body) < 200_000 < LIMIT < poison.ByteSize()
    with (
        Downstream() as downstream,
        ProcessorService(
            "127.0.0.1:0", downstream.address, tmp_path / "spool", http_listen="127.0.0.1:0"
        ) as service,
    ):
        code, _kind, _body = _post(
            f"http://127.0.0.1:{service.http_port}/v1/traces", body, "application/x-protobuf", "gzip"
        )
        assert code == 200
        wait_until(lambda: len(downstream.trace_ids()) == 512)
    assert downstream.trace_ids() == trace_ids(poison) and len(downstream.of()) >= 2


@pytest.fixture
def disk():
    """A real 1 MiB filesystem (tmpfs) that fills up; skipped, saying why, where mounting is not allowed."""
    from .reliability.delivery import DiskUnavailable, tiny_disk

    try:
        with tiny_disk("1m") as directory:
            yield directory
    except DiskUnavailable as error:
        pytest.skip(str(error))


def test_a_full_spool_disk_answers_retry_later_and_leaks_nothing(disk):
    """ENOSPC while spooling (a real 1 MiB tmpfs): gRPC RESOURCE_EXHAUSTED with a RetryInfo detail,
    OTLP/HTTP 503 with Retry-After, refused spans counted, no temporary file left; once the downstream is
    back the spool drains and the client's retry gets through."""
    from genai_otel.processor.retry import retry_delay

    from .reliability.delivery import Downstream, fill

    port = free_port()
    spool = disk / "spool"
    service = ProcessorService(
        "127.0.0.1:0", f"127.0.0.1:{port}", spool, durable=True, http_listen="127.0.0.1:0"
    ).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            call = channel.unary_unary(EXPORT_METHOD)
            call(export_request(CHAT, 1, "kept").SerializeToString(), timeout=5)  # on disk
            fill(disk)
            request = export_request(CHAT, 3, "refused", 10).SerializeToString()
            with pytest.raises(grpc.RpcError) as caught:
                call(request, timeout=5)
            code, _kind, _body = _post(
                f"http://127.0.0.1:{service.http_port}/v1/traces", request, "application/x-protobuf"
            )
            assert code == 503
            assert service.counters.rejected == 6 and service.counters.spool_errors == 2
            assert not list(spool.glob("*.tmp"))
            for filler in disk.glob("filler*"):
                filler.unlink()
            with Downstream(port) as downstream:
                wait_until(lambda: len(downstream.trace_ids()) == 1)  # the spool drains
                call(request, timeout=5)  # the client's retry
                wait_until(lambda: len(downstream.trace_ids()) == 4)
    finally:
        service.stop(drain_seconds=1)
    error = caught.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and retry_delay(error) == 1.0
    assert "No space left" in error.details()


def test_sigterm_with_a_full_spool_disk_says_what_it_could_not_keep(disk):
    """The CLI, default mode, the spool disk full and the downstream down: acknowledged spans cannot be
    spilled; they are retried until the drain deadline, then the exit code (3) and the output say what
    was lost (it used to exit 2 with an OSError traceback, silently)."""
    import signal
    import subprocess
    import sys

    from .reliability.delivery import fill
    from .servers import wait_for_port

    (disk / "spool").mkdir()
    fill(disk)
    port = free_port()
    command = [sys.executable, "-m", "genai_otel.cli", "processor", "--listen", f"127.0.0.1:{port}"]
    command += ["--forward", f"127.0.0.1:{free_port()}", "--spool", str(disk / "spool")]
    command += ["--drain-seconds", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_port(port, 60, process)
    _send(f"127.0.0.1:{port}", 3, CHAT)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 3, output
    assert "LOST: 3 acknowledged request(s), 3 items" in output and "Traceback" not in output


# -- logs and metrics (issue 13 item 5) ---------------------------------------------------------------


def test_logs_go_through_the_rules_and_metrics_pass_through_on_grpc_and_http(tmp_path):
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from .reliability.delivery import Downstream

    secret = "mail me at jane.doe@example.com"
    with (
        Downstream() as downstream,
        ProcessorService(
            "127.0.0.1:0", downstream.address, tmp_path / "spool", http_listen="127.0.0.1:0"
        ) as service,
    ):
        grpc_endpoint = f"127.0.0.1:{service.port}"
        http_base = f"http://127.0.0.1:{service.http_port}"
        for exporter in (
            OTLPLogExporter(endpoint=grpc_endpoint, insecure=True),
            HttpLogExporter(endpoint=f"{http_base}/v1/logs"),
        ):
            provider = LoggerProvider()
            provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
            provider.get_logger("app").emit(
                event_name=sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
                body={"content": secret},
                attributes={sc.GEN_AI_INPUT_MESSAGES: secret, sc.GEN_AI_OPERATION_NAME: "chat"},
            )
            provider.shutdown()
        for exporter in (
            OTLPMetricExporter(endpoint=grpc_endpoint, insecure=True),
            HttpMetricExporter(endpoint=f"{http_base}/v1/metrics"),
        ):
            reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
            meters = MeterProvider(metric_readers=[reader])
            meters.get_meter("app").create_counter("app.calls").add(7, {"route": "chat"})
            meters.shutdown()
        wait_until(lambda: len(downstream.of("logs")) == 2 and len(downstream.of("metrics")) == 2)
        assert service.counters.logs_received == 2 and service.counters.metrics_received == 2
        wait_until(lambda: service.counters.logs_forwarded == 2 and service.counters.metrics_forwarded == 2)
    for request in downstream.of("logs"):
        [record] = request.resource_logs[0].scope_logs[0].log_records
        assert record.event_name == sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
        attributes = {kv.key: kv.value.string_value for kv in record.attributes}
        assert "jane.doe@example.com" not in attributes[sc.GEN_AI_INPUT_MESSAGES]
        assert "jane.doe@example.com" not in str(record.body)
        assert attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
    for request in downstream.of("metrics"):
        [metric] = request.resource_metrics[0].scope_metrics[0].metrics
        assert metric.name == "app.calls" and metric.sum.data_points[0].as_int == 7
    assert not downstream.of("traces")


def _spans_of(downstream) -> list:
    return [
        (ss.scope, span)
        for r in downstream.of()
        for rs in r.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
