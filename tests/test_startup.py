"""Start-up cost (issue 17): what ``import genai_otel`` and an ``instrument()`` with nothing to instrument
import (each in a fresh interpreter), and the installed versions the dependency checks read. No time is
asserted (bench/startup.py measures it)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

import genai_otel
from genai_otel.instrumentation._registry import dependency_conflicts, installed_version

SOURCE = str(Path(genai_otel.__file__).resolve().parents[1])

#: Modules that only some paths need: none of them may load for a no-op instrument().
NOT_FOR_A_NO_OP_INSTRUMENT = (
    "asyncio",
    "genai_otel.agents",
    "genai_otel.conventions",
    "genai_otel.evaluation",
    "genai_otel.messaging",
    "genai_otel.processor",
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
