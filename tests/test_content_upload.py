"""Content that leaves the span: the upload hook writes message content to a store (a local directory, a
real S3-compatible server) and the span/event keeps the reference; uploads never block nor fail the call;
the processor's offload rule does the same for spans from other apps."""

from __future__ import annotations

import json
import logging
import os
import socket
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import hypothesis
import openai
import pytest
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, Settings
from genai_otel.processor.config_file import from_dict
from genai_otel.processor.model import SpanRecord
from genai_otel.processor.offload import OffloadRule
from genai_otel.processor.service import ProcessorService
from genai_otel.telemetry import upload
from genai_otel.telemetry.upload import ContentStore, reference_attribute
from genai_otel.testing.conformance import check_log_records, check_spans, format_violations, span_view
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .conftest import API_KEY
from .servers import free_port, wait_until

INPUT_REF = reference_attribute(sc.GEN_AI_INPUT_MESSAGES)
OUTPUT_REF = reference_attribute(sc.GEN_AI_OUTPUT_MESSAGES)
#: Far beyond the default inline cap (16 KiB): the store gets it whole.
PROMPT = "Summarise this report. " + "lorem ipsum dolor sit amet " * 4000


class Traced:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.settings = Settings()

    def instrument(self, settings: Settings) -> None:
        self.settings = settings
        genai_otel.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            logger_provider=self.logger_provider,
            settings=settings,
            only=["openai"],
        )

    def chat(self, prompt: str = PROMPT) -> Any:
        return self.client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
        )

    def span(self) -> Any:
        [span] = self.spans.get_finished_spans()
        return span

    def event_attributes(self) -> dict[str, Any]:
        [record] = [r.log_record for r in self.logs.get_finished_logs()]
        return dict(record.attributes)

    def check(self) -> None:
        capture = self.settings.content_capture
        views = [span_view(s) for s in self.spans.get_finished_spans()]
        records = [
            types.SimpleNamespace(
                event_name=r.log_record.event_name,
                attributes=dict(r.log_record.attributes or {}),
                body=r.log_record.body,
            )
            for r in self.logs.get_finished_logs()
        ]
        violations = check_spans(views, content_captured=capture.on_span)
        violations += check_log_records(records, content_captured=capture.on_event)
        assert not violations, format_violations(violations)


@pytest.fixture
def traced(model_server) -> Iterator[Traced]:
    client = openai.OpenAI(base_url=model_server.openai_base_url, api_key=API_KEY, max_retries=0)
    handle = Traced(client)
    try:
        yield handle
    finally:
        genai_otel.uninstrument()
    handle.check()


def _local(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(urlparse(url).path)


def _expected_input(prompt: str = PROMPT) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]


def _capture(**kwargs: Any) -> Settings:
    kwargs.setdefault("content_capture", ContentCapture.SPAN_ONLY)
    kwargs.setdefault("completion_hook", "upload")
    return Settings(**kwargs)


# -- a local directory -------------------------------------------------------------------------------------


def test_local_directory_holds_the_whole_content_and_the_span_the_reference(traced, tmp_path):
    traced.instrument(
        _capture(content_capture=ContentCapture.SPAN_AND_EVENT, upload_base_path=str(tmp_path / "content"))
    )
    result = traced.chat()
    span = traced.span()
    a = span.attributes
    assert sc.GEN_AI_INPUT_MESSAGES not in a and sc.GEN_AI_OUTPUT_MESSAGES not in a
    assert sc.GENAI_OTEL_CONTENT_TRUNCATED not in a  # nothing was cut: it went to the store whole
    context = span.get_span_context()
    assert f"/{context.trace_id:032x}/{context.span_id:016x}-" in a[INPUT_REF]
    inputs, outputs = _local(a[INPUT_REF]), _local(a[OUTPUT_REF])
    wait_until(lambda: inputs.exists() and outputs.exists())
    assert json.loads(inputs.read_text()) == _expected_input()
    [choice] = json.loads(outputs.read_text())
    assert choice["role"] == "assistant"
    assert choice["parts"][0]["content"] == result.choices[0].message.content
    # The event carries the same references (capture includes events), not the content.
    event = traced.event_attributes()
    assert event[INPUT_REF] == a[INPUT_REF] and sc.GEN_AI_INPUT_MESSAGES not in event


def test_keep_inline_and_jsonl(traced, tmp_path):
    traced.instrument(
        _capture(upload_base_path=str(tmp_path), upload_keep_inline=True, upload_format="jsonl")
    )
    traced.chat("hello there")
    a = traced.span().attributes
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == _expected_input("hello there")
    path = _local(a[INPUT_REF])
    assert path.suffix == ".jsonl"
    wait_until(path.exists)
    [line] = path.read_text().splitlines()
    assert json.loads(line) == {**_expected_input("hello there")[0], "index": 0}


def test_small_content_stays_inline_below_min_size(traced, tmp_path):
    traced.instrument(_capture(upload_base_path=str(tmp_path / "content"), upload_min_size=10_000))
    traced.chat("hello there")
    a = traced.span().attributes
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == _expected_input("hello there")
    assert INPUT_REF not in a and not (tmp_path / "content").exists()


def test_nothing_is_uploaded_when_content_capture_is_off(traced, tmp_path):
    off = ContentCapture.NO_CONTENT
    traced.instrument(_capture(content_capture=off, upload_base_path=str(tmp_path / "c")))
    traced.chat()
    a = traced.span().attributes
    assert INPUT_REF not in a and sc.GEN_AI_INPUT_MESSAGES not in a
    assert not (tmp_path / "c").exists()
    assert upload.from_settings(traced.settings) is None  # no per-call work at all


# -- failures never reach the app -----------------------------------------------------------------------


def test_store_down_the_call_succeeds_and_the_failure_is_logged_once_and_counted(traced, tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")  # every write fails
    store = ContentStore(str(blocker / "content"))
    traced.instrument(_capture(content_hook=store))
    with caplog.at_level(logging.WARNING, logger="genai_otel"):
        first = traced.chat()
        second = traced.chat("again")
        assert store.flush(10)
    assert first.choices[0].message.content and second.choices[0].message.content
    assert store.counts["failed"] == 4 and store.counts["uploaded"] == 0  # inputs + outputs, twice
    failures = [r for r in caplog.records if "content upload" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]


def test_full_queue_skips_the_upload_keeps_the_content_inline_and_counts_it(traced, tmp_path):
    store = ContentStore(str(tmp_path), max_queue_bytes=4096)
    traced.instrument(_capture(content_hook=store))
    traced.chat()  # the prompt alone is over the byte cap: refused at once
    a = traced.span().attributes
    assert INPUT_REF not in a
    assert sc.GEN_AI_INPUT_MESSAGES in a[sc.GENAI_OTEL_CONTENT_TRUNCATED]  # inline, size-limited as ever
    assert OUTPUT_REF in a  # the short answer fitted
    assert store.counts["skipped"] == 1
    assert store.flush(10) and store.counts["uploaded"] == 1


class _SilentServer:
    """A TCP port that accepts connections and never answers: a store that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"


def test_a_hanging_store_never_blocks_the_call_and_shutdown_keeps_its_deadline(traced, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    silent = _SilentServer()
    try:
        store = ContentStore(
            "s3://hangs/content",
            max_queue_size=2,
            workers=1,
            storage_options={"endpoint_url": silent.url, "config_kwargs": {"retries": {"max_attempts": 1}}},
        )
        traced.instrument(_capture(content_hook=store))
        for _ in range(3):  # 6 objects for one stuck worker and a queue of 2
            assert traced.chat("hello").choices[0].message.content
        assert store.counts["skipped"] >= 3
        assert store.shutdown(0.2) is False  # the deadline holds though the store never answers
        assert store.counts["dropped"] >= 1
    finally:
        silent.sock.close()


# -- a real S3-compatible server -------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch) -> Iterator[Callable[..., Any]]:
    """moto's S3 in server mode on a loopback port; AWS_ENDPOINT_URL points the SDKs (and s3fs) at it."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        client = boto3.client("s3")
        client.create_bucket(Bucket="genai-content")
        yield client
    finally:
        server.stop()


def test_s3_upload_from_the_environment_settings(traced, s3):
    settings = Settings.from_env(
        {
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
            "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK": "upload",
            "OTEL_INSTRUMENTATION_GENAI_UPLOAD_BASE_PATH": "s3://genai-content/prod",
        }
    )
    traced.instrument(settings)
    result = traced.chat()
    a = traced.span().attributes
    assert sc.GEN_AI_INPUT_MESSAGES not in a
    assert a[INPUT_REF].startswith("s3://genai-content/prod/")

    def body(ref: str) -> Any:
        key = urlparse(ref).path.lstrip("/")
        return json.loads(s3.get_object(Bucket="genai-content", Key=key)["Body"].read())

    def stored() -> bool:
        listed = s3.list_objects_v2(Bucket="genai-content", Prefix="prod/").get("Contents", [])
        return len(listed) == 2

    wait_until(stored)
    assert body(a[INPUT_REF]) == _expected_input()
    assert body(a[OUTPUT_REF])[0]["parts"][0]["content"] == result.choices[0].message.content


# -- settings --------------------------------------------------------------------------------------------


def test_settings_read_the_upstream_names_first():
    s = Settings.from_env(
        {
            "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK": "Upload",
            "OTEL_INSTRUMENTATION_GENAI_UPLOAD_BASE_PATH": "s3://b/p",
            "OTEL_INSTRUMENTATION_GENAI_UPLOAD_FORMAT": "JSONL",
            "OTEL_INSTRUMENTATION_GENAI_UPLOAD_MAX_QUEUE_SIZE": "7",
            "GENAI_OTEL_UPLOAD_MAX_QUEUE_BYTES": "1000",
            "GENAI_OTEL_UPLOAD_KEEP_INLINE": "true",
            "GENAI_OTEL_UPLOAD_MIN_SIZE": "10",
            "GENAI_OTEL_UPLOAD_SHUTDOWN_TIMEOUT": "1.5",
        }
    )
    assert (s.completion_hook, s.upload_base_path, s.upload_format) == ("upload", "s3://b/p", "jsonl")
    assert (s.upload_max_queue_size, s.upload_max_queue_bytes, s.upload_min_size) == (7, 1000, 10)
    assert s.upload_keep_inline and s.upload_shutdown_timeout == 1.5
    default = Settings.from_env({})
    assert default.completion_hook is None and default.upload_base_path == "genai-otel-content"
    odd = Settings.from_env(
        {
            "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK": "mystery",
            "OTEL_INSTRUMENTATION_GENAI_UPLOAD_FORMAT": "x",
        }
    )
    assert odd.completion_hook is None and odd.upload_format == "json"


# -- the processor ---------------------------------------------------------------------------------------


def test_processor_offload_rule_over_a_real_otlp_request(tmp_path):
    config = from_dict(
        {"rules": ["normalize", {"offload": {"store": str(tmp_path / "store"), "min_size": 1000}}, "limit"]}
    )
    [offload] = [rule for rule in config.rules if isinstance(rule, OffloadRule)]
    big = json.dumps(_expected_input())
    small = json.dumps(_expected_input("hi"))
    chat = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "m"}
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool", config=config) as service:
            provider = TracerProvider()
            exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.port}", insecure=True)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            tracer = provider.get_tracer("another-app")
            with tracer.start_as_current_span("chat m", attributes={**chat, sc.GEN_AI_INPUT_MESSAGES: big}):
                pass
            with tracer.start_as_current_span("chat m", attributes={**chat, sc.GEN_AI_INPUT_MESSAGES: small}):
                pass
            provider.shutdown()
            wait_until(lambda: len(downstream.spans()) == 2)
    first, second = (span_view(span).attributes for _, span in downstream.spans())
    assert sc.GEN_AI_INPUT_MESSAGES not in first
    # Stopping the service finished the rule's queued uploads: the stored object is there.
    assert json.loads(_local(first[INPUT_REF]).read_text()) == _expected_input()
    assert second[sc.GEN_AI_INPUT_MESSAGES] == small and INPUT_REF not in second  # below min_size
    assert offload.shutdown(1)


def test_offload_is_off_by_default():
    from genai_otel.processor.config_file import ProcessorConfig

    assert not any(isinstance(rule, OffloadRule) for rule in ProcessorConfig().rules)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_uploads_with_its_own_workers(tmp_path):
    store = ContentStore(str(tmp_path))
    assert store.upload({sc.GEN_AI_INPUT_MESSAGES: "[1]"}, trace_id=1, span_id=1)  # the parent's workers
    assert store.flush(10)
    pid = os.fork()
    if pid == 0:  # the child: a pre-fork server's worker
        ok = bool(store.upload({sc.GEN_AI_INPUT_MESSAGES: "[2]"}, trace_id=2, span_id=2)) and store.flush(10)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / f"{2:032x}" / f"{2:016x}-{sc.GEN_AI_INPUT_MESSAGES}.json").read_text() == "[2]\n"


_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50) | st.binary(max_size=9)
_VALUE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner))
_KEY = st.sampled_from(upload.UPLOADED_ATTRIBUTES) | st.text(max_size=10)


@pytest.fixture(scope="module")
def offload_rule(tmp_path_factory) -> Iterator[OffloadRule]:
    rule = OffloadRule(store=str(tmp_path_factory.mktemp("offload")), min_size=8)
    yield rule
    assert rule.shutdown(10)


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(st.dictionaries(_KEY, _VALUE, max_size=5))
def test_offload_never_raises_on_any_attribute_values(offload_rule, attributes):
    events = [("event", dict(attributes))]
    record = SpanRecord("span", dict(attributes), events, trace_id=b"t" * 16, span_id=b"s" * 8)
    offload_rule.apply(record)
    for attrs in (record.attributes, record.events[0][1]):
        for key in upload.UPLOADED_ATTRIBUTES:  # the content or its reference, never both, never neither
            assert key not in attributes or (key in attrs) != (reference_attribute(key) in attrs)
