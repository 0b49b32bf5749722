"""Start-up cost (issue 17): what ``import genai_otel`` and an ``instrument()`` with nothing to instrument
import. Each check runs in a fresh interpreter; no time is asserted (bench/startup.py measures it)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import genai_otel

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
