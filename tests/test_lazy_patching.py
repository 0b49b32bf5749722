"""Instrumenting imports nothing: each patch is applied by a post-import hook on its module, at once when the
app already imported it, else when the app first does -- so an app pays only for the libraries it uses.

Under ``opentelemetry-instrument`` (every entry point, in a venv with every SDK, framework and vector store
installed) a fresh interpreter has imported none of them, yet ``import openai`` then gives traced calls,
``from module import function`` binds the wrapped function, and the frameworks' set-up (handlers, tracers,
wrapped streams) happens when they are imported, in whatever order. In-process, with a module of the test's
own as the patch target: a hook that fires after ``uninstrument()`` does nothing, instrument -> uninstrument
-> instrument wraps once, and a failing hook never breaks the app's import.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wrapt
from opentelemetry.sdk.trace import TracerProvider

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .test_zero_code import run_app

#: Libraries no instrumentor may import by being instrumented (faiss is the known exception: its instrumentor
#: lists the index classes of the installed faiss to know what to patch).
LIBRARIES = (
    "a2a",
    "anthropic",
    "azure.ai.inference",
    "botocore",
    "chromadb",
    "cohere",
    "google.genai",
    "groq",
    "haystack",
    "lancedb",
    "langchain_core",
    "langgraph",
    "llama_index.core",
    "mcp",
    "mistralai",
    "nats",
    "ollama",
    "openai",
    "pinecone",
    "psycopg",
    "pymilvus",
    "qdrant_client",
    "redis",
    "weaviate",
)

LAZY_APP = f"""
import json
import os
import sys

print(json.dumps(sorted(m for m in {LIBRARIES!r} if m in sys.modules)))

import openai

client = openai.OpenAI(base_url=os.environ["MODEL_SERVER_URL"] + "/v1", api_key=os.environ["APP_API_KEY"])
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])

# A module-level function imported by name: the hook ran before the statement bound it.
from mcp.client.streamable_http import streamable_http_client
import mcp.client.streamable_http as transport

# Frameworks set up when imported: LangGraph first (it imports langchain_core midway through its own import).
from langgraph.pregel import main as pregel
import langchain_core.callbacks as callbacks
from llama_index.core.instrumentation import get_dispatcher
from haystack import tracing
import wrapt

print(json.dumps({{
    "function": streamable_http_client is transport.streamable_http_client
    and isinstance(streamable_http_client, wrapt.FunctionWrapper),
    "langgraph": hasattr(pregel.Pregel.__dict__["stream"], "__wrapped__"),
    "langchain": hasattr(callbacks.BaseCallbackManager.__dict__["__init__"], "__wrapped__"),
    "llamaindex": [type(h).__name__ for h in get_dispatcher().span_handlers],
    "haystack": type(tracing.tracer.actual_tracer).__name__,
}}))
print("app done")
"""


def test_opentelemetry_instrument_imports_no_library_until_the_app_does(model_server, tmp_path):
    with OtlpReceiver() as receiver:
        done = run_app(LAZY_APP, tmp_path, receiver, MODEL_SERVER_URL=model_server.url)
        first, after = (json.loads(line) for line in done.stdout.splitlines()[:2])
        assert first == [], f"imported by instrumenting alone: {first}"
        assert done.stderr == ""
        chats = [s.name for scope, s in receiver.spans() if scope.name == "genai_otel"]
    assert chats == ["chat gpt-4o-mini"]
    assert after == {
        "function": True,
        "langgraph": True,
        "langchain": True,
        "llamaindex": ["NullSpanHandler", "GenAISpanHandler"],
        "haystack": "GenAITracer",
    }


def test_instrument_in_code_imports_no_library(tmp_path):
    code = (
        "import json, sys, genai_otel\n"
        "names = genai_otel.instrument()\n"
        f"print(json.dumps([names, sorted(m for m in {LIBRARIES!r} if m in sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-4000:]
    names, imported = json.loads(done.stdout)
    assert "openai" in names and "langchain_core" in names
    assert imported == []


# -- the hook mechanism, on a module of the test's own ------------------------------------------------------


class _Counting:
    """The wrapper the test instrumentor applies: counts the calls that go through it."""

    calls = 0

    @classmethod
    def factory(cls, handler: Any) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            cls.calls += 1
            return wrapped(*args, **kwargs)

        return wrapper


class _TargetInstrumentor(GenAIInstrumentor):
    """Patches ``double`` and ``Box.get`` in :attr:`library_module` and counts its set-ups."""

    set_ups: list[str] = []
    fail_factory = False

    def patches(self) -> Iterable[Patch]:
        factory = self._failing if self.fail_factory else _Counting.factory
        yield Patch(self.library_module, "double", factory)
        yield Patch(self.library_module, "Box.get", factory)
        yield Patch(self.library_module, "Box.absent_in_this_version", factory)

    @staticmethod
    def _failing(handler: Any) -> Any:
        raise RuntimeError("a bug of ours")

    def _on_instrument(self) -> None:
        self.set_ups.append("up")

    def _on_uninstrument(self) -> None:
        self.set_ups.append("down")


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, _TargetInstrumentor]]:
    """A fresh, never-imported module name (wrapt keeps hooks by name) and the instrumentor aimed at it."""
    name = f"lazy_target_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "def double(x):\n    return 2 * x\n\n\nclass Box:\n    def get(self):\n        return 'box'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    instrumentor = _TargetInstrumentor()
    monkeypatch.setattr(_TargetInstrumentor, "library_module", name)
    monkeypatch.setattr(_TargetInstrumentor, "fail_factory", False)
    _TargetInstrumentor.set_ups.clear()
    _Counting.calls = 0
    yield name, instrumentor
    instrumentor.uninstrument()
    sys.modules.pop(name, None)


def _instrument(instrumentor: GenAIInstrumentor) -> None:
    instrumentor.instrument(tracer_provider=TracerProvider())


def test_a_patch_waits_for_the_import_and_from_import_binds_the_wrapped_function(target):
    name, instrumentor = target
    _instrument(instrumentor)
    assert name not in sys.modules and _TargetInstrumentor.set_ups == []
    bound = {}
    exec(f"from {name} import double, Box", bound)  # the app's own statement
    module = sys.modules[name]
    assert bound["double"] is module.double and isinstance(bound["double"], wrapt.FunctionWrapper)
    assert bound["double"](21) == 42 and bound["Box"]().get() == "box"
    assert _Counting.calls == 2
    assert _TargetInstrumentor.set_ups == ["up"]
    original = module.double.__wrapped__
    instrumentor.uninstrument()
    assert module.double is original and not isinstance(vars(module.Box)["get"], wrapt.FunctionWrapper)
    assert _TargetInstrumentor.set_ups == ["up", "down"]


def test_a_hook_that_fires_after_uninstrument_does_nothing(target):
    name, instrumentor = target
    _instrument(instrumentor)
    instrumentor.uninstrument()
    module = importlib.import_module(name)
    assert not isinstance(module.double, wrapt.FunctionWrapper)
    assert _TargetInstrumentor.set_ups == []  # never set up, so never torn down either


def test_instrument_uninstrument_instrument_wraps_once(target):
    name, instrumentor = target
    _instrument(instrumentor)
    instrumentor.uninstrument()
    _instrument(instrumentor)  # two hooks are registered for the module now: the first is stale
    module = importlib.import_module(name)
    assert isinstance(module.double, wrapt.FunctionWrapper)
    assert not isinstance(module.double.__wrapped__, wrapt.FunctionWrapper)
    assert module.double(1) == 2 and _Counting.calls == 1
    assert _TargetInstrumentor.set_ups == ["up"]


def test_an_already_imported_module_is_patched_at_once(target):
    name, instrumentor = target
    module = importlib.import_module(name)
    _instrument(instrumentor)
    assert isinstance(module.double, wrapt.FunctionWrapper) and _TargetInstrumentor.set_ups == ["up"]


def test_a_failing_hook_never_breaks_the_apps_import(target, caplog, monkeypatch):
    name, instrumentor = target
    monkeypatch.setattr(_TargetInstrumentor, "fail_factory", True)
    caplog.set_level(logging.WARNING, logger="genai_otel")
    _instrument(instrumentor)
    module = importlib.import_module(name)  # no exception into the app
    assert module.double(2) == 4 and not isinstance(module.double, wrapt.FunctionWrapper)
    assert any("internal error" in r.getMessage() for r in caplog.records)
