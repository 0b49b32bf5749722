"""Start-up cost (issue 17): what ``import genai_otel`` and an ``instrument()`` with nothing to instrument
import (each in a fresh interpreter), the default handler built on first use, and the installed versions the
dependency checks read. No time is asserted (bench/startup.py measures it)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import safety
from genai_otel.config import Settings
from genai_otel.instrumentation._registry import dependency_conflicts, installed_version
from genai_otel.telemetry import handler as handler_module

SOURCE = str(Path(genai_otel.__file__).resolve().parents[1])

#: Modules that only some paths need: none of them may load for a no-op instrument().
NOT_FOR_A_NO_OP_INSTRUMENT = (
    "asyncio",
    "genai_otel.agents",
    "genai_otel.conventions",
    "genai_otel.evaluation",
    "genai_otel.messaging",
    "genai_otel.processor",
    "genai_otel.telemetry",
    "importlib.metadata",
    "opentelemetry.instrumentation",
    "opentelemetry.sdk",
    "packaging",
    "wrapt",
    "yaml",
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has after running ``code``, beyond those it started with."""
    script = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(out.stdout.splitlines()[-1]))


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in modules if any(name == p or name.startswith(p + ".") for p in prefixes))


def test_import_genai_otel_imports_no_opentelemetry_and_no_telemetry_core():
    modules = _modules_after("import genai_otel")
    assert _loaded(modules, ("opentelemetry", "genai_otel.telemetry", "genai_otel.propagation")) == []


def test_an_instrument_with_nothing_to_instrument_imports_only_what_it_needs():
    modules = _modules_after("import genai_otel; assert genai_otel.instrument(only=[]) == []")
    assert _loaded(modules, NOT_FOR_A_NO_OP_INSTRUMENT) == []
    # The instrumentor registry, not one instrumentor.
    assert [name for name in modules if name.startswith("genai_otel.instrumentation.")] == []


@pytest.mark.parametrize(
    ("name", "module", "attribute"),
    [
        ("agent", "genai_otel.agents", "agent"),
        ("tool", "genai_otel.agents", "tool"),
        ("current_agent_path", "genai_otel.agents", "current_agent_path"),
        ("AgentLoopError", "genai_otel.agents", "AgentLoopError"),
        ("Settings", "genai_otel.config", "Settings"),
        ("messaging", "genai_otel.messaging", None),
        ("propagation", "genai_otel.propagation", None),
    ],
)
def test_the_public_names_imported_on_first_use_are_the_real_ones(name, module, attribute):
    target = importlib.import_module(module)
    expected = target if attribute is None else getattr(target, attribute)
    assert getattr(genai_otel, name) is expected
    assert name in dir(genai_otel)
    assert name in genai_otel.__all__


def test_an_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        genai_otel.not_there  # noqa: B018
    assert not hasattr(genai_otel, "not_there")


# -- the default handler, built on first use ----------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """An exporter behind a tracer provider of its own; the default handler is forgotten after the test."""
    exporter = InMemorySpanExporter()
    try:
        yield exporter
    finally:
        genai_otel.uninstrument()


def _provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@genai_otel.tool
def _look_up(query: str) -> str:
    return query.upper()


def _tool_spans(exporter: InMemorySpanExporter) -> list[str]:
    return [span.name for span in exporter.get_finished_spans()]


def test_the_tool_api_uses_the_providers_given_to_an_instrument_that_instrumented_nothing(spans):
    settings = Settings()
    assert genai_otel.instrument(tracer_provider=_provider(spans), settings=settings, only=[]) == []
    assert handler_module._default_handler is None  # not built yet: nothing needed it
    assert _look_up("q") == "Q"
    assert _tool_spans(spans) == ["execute_tool _look_up"]
    assert handler_module.default_handler().settings is settings


def test_the_first_instrumentor_to_load_builds_instruments_handler(spans):
    settings = Settings()
    assert genai_otel.instrument(tracer_provider=_provider(spans), settings=settings, only=["openai"])
    default = handler_module._default_handler
    assert default is not None and default.settings is settings
    assert default is not genai_otel._active["openai"].handler  # instrument()'s own, as before
    assert _look_up("q") == "Q"
    assert _tool_spans(spans) == ["execute_tool _look_up"]


def test_a_second_instrument_replaces_the_default_handler_even_once_built(spans):
    first, second = Settings(), Settings()
    genai_otel.instrument(settings=first, only=[])
    assert handler_module.default_handler().settings is first
    genai_otel.instrument(tracer_provider=_provider(spans), settings=second, only=[])
    assert handler_module.default_handler().settings is second
    _look_up("q")
    assert _tool_spans(spans) == ["execute_tool _look_up"]


@pytest.mark.parametrize("use_before", [False, True])
def test_uninstrument_forgets_the_default_handler_built_or_not(spans, use_before):
    genai_otel.instrument(tracer_provider=_provider(spans), only=[])
    if use_before:
        _look_up("before")
    genai_otel.uninstrument()
    assert handler_module._default_handler is None
    _look_up("after")  # on the global providers now
    assert _tool_spans(spans) == (["execute_tool _look_up"] if use_before else [])


def test_an_explicit_default_handler_replaces_what_instrument_gave(spans):
    genai_otel.instrument(tracer_provider=_provider(spans), only=[])
    explicit = handler_module.TelemetryHandler(settings=Settings())
    handler_module.set_default_handler(explicit)
    assert handler_module.default_handler() is explicit
    handler_module.set_default_handler(None)
    assert handler_module.default_handler() is not explicit
    _look_up("q")
    assert _tool_spans(spans) == []  # the global providers: instrument()'s were forgotten with it


class _RaisingTracerProvider:
    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken tracer provider")


def test_a_broken_provider_is_reported_on_first_use_and_the_global_providers_take_over(
    spans, monkeypatch, caplog
):
    monkeypatch.setattr(safety, "_reported", set())
    genai_otel.instrument(tracer_provider=_RaisingTracerProvider(), only=[])  # never raises
    assert _look_up("q") == "Q"
    assert "genai-otel internal error in instrument" in caplog.text
    assert handler_module.default_handler().tracer is not None


def test_threads_using_the_default_handler_first_at_once_share_one(spans):
    settings = Settings()
    genai_otel.instrument(tracer_provider=_provider(spans), settings=settings, only=[])
    with ThreadPoolExecutor(max_workers=8) as pool:
        handlers = set(pool.map(lambda _: id(handler_module.default_handler()), range(32)))
    assert handlers == {id(handler_module.default_handler())}
    assert handler_module.default_handler().settings is settings


# -- installed versions, read from the metadata directories' names ----------------------------------------


def test_every_installed_version_is_the_one_importlib_metadata_reports():
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    assert len(names) > 5
    assert {name: installed_version(name) for name in names} == {
        name: metadata.version(name) for name in names
    }


@pytest.mark.parametrize(
    "requirements",
    [
        [],
        ["packaging >= 1"],
        ["packaging < 1"],
        ["opentelemetry-api >= 1.0", "wrapt < 0.1"],
        ["genai-otel-surely-not-installed >= 1"],
        ["not a requirement !!"],
    ],
)
def test_dependency_conflicts_are_opentelemetrys(requirements):
    ours, theirs = dependency_conflicts(requirements), get_dependency_conflicts(requirements)
    assert (ours is None, str(ours)) == (theirs is None, str(theirs))


def _install(directory: Path, dist_info: str, version: str) -> None:
    (directory / dist_info).mkdir()
    (directory / dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: foo-bar\nVersion: {version}\n"
    )


def test_the_first_path_entry_naming_the_distribution_wins_as_in_importlib_metadata(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _install(second, "foo.bar-2.0.dist-info", "2.0")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    assert installed_version("Foo_Bar") == metadata.version("Foo_Bar") == "2.0"
    _install(first, "Foo_Bar-1.2.dist-info", "1.2")  # installed after the first look: seen
    assert installed_version("foo-bar") == metadata.version("foo-bar") == "1.2"


def test_what_the_names_cannot_tell_is_read_by_importlib_metadata(tmp_path, monkeypatch):
    _install(tmp_path, "foo_bar-1.2.dist-info", "1.2")
    _install(tmp_path, "foo_bar.egg-info", "1.5")  # two candidates in one directory, one without a version
    monkeypatch.syspath_prepend(str(tmp_path))
    assert installed_version("foo-bar") == metadata.version("foo-bar")
    with pytest.raises(metadata.PackageNotFoundError):
        installed_version("genai-otel-surely-not-installed")
