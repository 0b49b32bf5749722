"""Shared fixtures: the local model server, real OTel SDK providers, and automatic conformance checks.

Every test using the ``otel`` fixture has all its spans and metrics run through the conformance
checker at teardown.
"""

from __future__ import annotations

import dataclasses
import os

# Product telemetry of the frameworks under test stays off (no network here, and none wanted).
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("AGNO_TELEMETRY", "false")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
# LiteLLM (DSPy's default client) would fetch its model cost map over the network: use the bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.config import ContentCapture, Settings
from genai_otel.testing.conformance import assert_conformant
from genai_otel.testing.model_server import ModelServer

# One global TracerProvider per test process (the API allows setting it once). The Anthropic
# SDK's own spans go to the global provider too, so tests see them if they are emitted.
_SPANS = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_SPANS))
trace.set_tracer_provider(_PROVIDER)

API_KEY = "sk-test-SECRET-0123456789"

# tests/side/<name>/ hold the tests of frameworks that live in a venv of their own (tests/venvs.py,
# "<name>-venv"): tests/test_side_suites.py runs each there, with these same fixtures.
collect_ignore_glob = [] if os.environ.get("GENAI_OTEL_SIDE_SUITE") else ["side/*"]


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@dataclasses.dataclass
class Otel:
    settings: Settings
    metric_reader: InMemoryMetricReader
    log_exporter: InMemoryLogRecordExporter

    def spans(self) -> list[Any]:
        return list(_SPANS.get_finished_spans())

    def genai_spans(self) -> list[Any]:
        return [s for s in self.spans() if s.instrumentation_scope.name == "genai_otel"]

    def only_span(self) -> Any:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics(self) -> dict[str, Any]:
        data = self.metric_reader.get_metrics_data()
        return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}

    def logs(self) -> list[Any]:
        return [r.log_record for r in self.log_exporter.get_finished_logs()]


def _settings_from_marker(request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("genai_settings")
    overrides = dict(marker.kwargs) if marker else {}
    overrides.setdefault("content_capture", ContentCapture.NO_CONTENT)
    return Settings(**overrides)


@pytest.fixture
def otel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    """Instrument every installed library (or those of ``instrument_only``) with fresh metric and log
    providers; check conformance of spans, metrics and GenAI events after.

    A test that re-instruments (``genai_otel.uninstrument()`` then ``genai_otel.instrument(only=...)``)
    keeps this fixture's metric and log providers unless it passes its own: otherwise every metric and
    event after the re-instrument would go to the global no-op providers, unseen by the teardown check.
    """
    _SPANS.clear()
    settings = _settings_from_marker(request)
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    meter_provider = MeterProvider(metric_readers=[reader])
    instrument = genai_otel.instrument

    def instrument_keeping_providers(**kwargs: Any) -> list[str]:
        kwargs.setdefault("meter_provider", meter_provider)
        kwargs.setdefault("logger_provider", logger_provider)
        return instrument(**kwargs)

    monkeypatch.setattr(genai_otel, "instrument", instrument_keeping_providers)
    only = request.node.get_closest_marker("instrument_only")
    genai_otel.instrument(settings=settings, only=list(only.args) if only else None)
    handle = Otel(settings, reader, logs)
    try:
        yield handle
    finally:
        genai_otel.uninstrument()
    assert_conformant(
        handle.genai_spans(),
        reader.get_metrics_data(),
        content_captured=settings.content_capture.on_span,
        profiles=settings.profiles,
        log_records=handle.logs(),
        content_in_events=settings.content_capture.on_event,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "genai_settings(**kwargs): Settings for the otel fixture")
    config.addinivalue_line("markers", "instrument_only(*names): instrument only these libraries")


def _client(module: str, cls: str, base_url: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), cls)(base_url=base_url, api_key=API_KEY, max_retries=0)


@pytest.fixture
def openai_client(model_server: ModelServer) -> Any:
    return _client("openai", "OpenAI", model_server.openai_base_url)


@pytest.fixture
def async_openai_client(model_server: ModelServer) -> Any:
    return _client("openai", "AsyncOpenAI", model_server.openai_base_url)


@pytest.fixture
def anthropic_client(model_server: ModelServer) -> Any:
    return _client("anthropic", "Anthropic", model_server.url)


@pytest.fixture
def async_anthropic_client(model_server: ModelServer) -> Any:
    return _client("anthropic", "AsyncAnthropic", model_server.url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from .servers import redis_server

    with redis_server() as server:
        yield f"redis://{server.address}/0"


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    from .servers import nats_server

    with nats_server() as server:
        yield f"nats://{server.address}"


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    from .servers import rabbitmq_server

    with rabbitmq_server() as server:
        yield f"amqp://guest:guest@{server.address}/%2F"


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    from .servers import postgres_server

    with postgres_server() as dsn:
        yield dsn
