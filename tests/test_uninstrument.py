"""``uninstrument()`` puts every patched attribute back exactly (the very same object, ``is``), and calls made
afterwards make no spans; instrumenting again after that wraps once (one span per call, not two).

Every instrumentor built on :class:`~genai_otel.instrumentation._base.GenAIInstrumentor` patches what its
``patches()`` lists, so the identity check runs over that list for each of them. The frameworks
(LangChain, LlamaIndex, Haystack) install handlers instead of patches: their own test files check those.
LiteLLM is not installed in this venv (it pins openai < 3): its check runs in its own venv (tests/venvs.py).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import Settings
from genai_otel.instrumentation import INSTRUMENTORS
from genai_otel.instrumentation._base import GenAIInstrumentor, Patch

from .conftest import API_KEY
from .venvs import OWN_VENV_INSTRUMENTORS

#: Instrumentors whose work is not (only) in ``patches()``: checked in their own test files.
_HANDLER_BASED = {"langchain_core", "llama_index.core", "haystack"}
#: Not installable next to the main venv's pins (tests/venvs.py runs each in a venv of its own; the agent
#: frameworks' uninstrument tests are in tests/side/<name>/).
_OWN_VENV = OWN_VENV_INSTRUMENTORS
PATCHED = sorted(set(INSTRUMENTORS) - _HANDLER_BASED - _OWN_VENV)

_ABSENT = object()


def _instrumentor(name: str) -> GenAIInstrumentor:
    module, _, cls = INSTRUMENTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def _owner(patch: Patch) -> tuple[Any, str]:
    owner_path, _, attribute = patch.attribute.rpartition(".")
    owner: Any = importlib.import_module(patch.module)
    for part in filter(None, owner_path.split(".")):
        owner = getattr(owner, part)
    return owner, attribute


def _snapshot(patches: list[Patch]) -> dict[str, tuple[Any, str, Any, Any]]:
    """Per patch target: the owner's own ``__dict__`` entry and what attribute lookup finds statically
    (both must come back: an unwrap that leaves a copy in a subclass's ``__dict__`` would shadow the base)."""
    out = {}
    for patch in patches:
        try:
            owner, attribute = _owner(patch)
        except (ImportError, AttributeError):
            continue  # the installed version lacks this API: the instrumentor skips it too
        own = vars(owner).get(attribute, _ABSENT)
        out[f"{patch.module}:{patch.attribute}"] = (
            owner,
            attribute,
            own,
            inspect.getattr_static(owner, attribute, _ABSENT),
        )
    return out


def _changed(before: dict[str, tuple[Any, str, Any, Any]]) -> list[str]:
    return [
        key
        for key, (owner, attribute, own, static) in before.items()
        if vars(owner).get(attribute, _ABSENT) is not own
        or inspect.getattr_static(owner, attribute, _ABSENT) is not static
    ]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    genai_otel.uninstrument()


def _instrument(name: str, exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert genai_otel.instrument(tracer_provider=provider, settings=Settings(), only=[name]) == [name]


@pytest.mark.parametrize("name", PATCHED)
def test_uninstrument_restores_every_patched_attribute(name, spans):
    assert importlib.util.find_spec(name) is not None, f"{name} is part of the test install"
    genai_otel.uninstrument()
    importlib.import_module(name)  # as the app would: some instrumentors know their targets only then (faiss)
    before = _snapshot(list(_instrumentor(name).patches()))
    assert before, f"{name}: no patch target exists in the installed version"
    assert not _changed(before), f"{name}: patched before instrument()"
    for _cycle in range(2):  # a second cycle catches state kept from the first
        _instrument(name, spans)
        wrapped = _changed(before)
        assert wrapped, f"{name}: instrument() patched nothing"
        genai_otel.uninstrument()
        assert _changed(before) == [], f"{name}: not restored to the original objects"
        assert not _instrumentor(name).is_instrumented_by_opentelemetry


# -- calls after uninstrument make no spans; re-instrumenting wraps once ------------------------------------


def _bedrock(server: Any) -> None:
    import boto3

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret-example",
    )
    client.converse(
        modelId="anthropic.claude-sonnet", messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )


def _cohere(server: Any) -> None:
    import cohere

    cohere.ClientV2(api_key=API_KEY, base_url=server.url).chat(
        model="command-a", messages=[{"role": "user", "content": "hi"}]
    )


def _google(server: Any) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url))
    client.models.generate_content(model="gemini-2.5-flash", contents="hi")


def _ollama(server: Any) -> None:
    import ollama

    ollama.Client(host=server.url).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])


def _groq(server: Any) -> None:
    import groq

    groq.Groq(base_url=server.url, api_key=API_KEY, max_retries=0).chat.completions.create(
        model="model-a", messages=[{"role": "user", "content": "hi"}]
    )


def _mistral(server: Any) -> None:
    from mistralai.client import Mistral

    Mistral(api_key=API_KEY, server_url=server.url).chat.complete(
        model="model-a", messages=[{"role": "user", "content": "hi"}]
    )


def _azure(server: Any) -> None:
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    client = ChatCompletionsClient(endpoint=f"{server.url}/models", credential=AzureKeyCredential(API_KEY))
    client.complete(model="model-a", messages=[{"role": "user", "content": "hi"}])


def _chroma(_server: Any) -> None:
    import uuid

    import chromadb

    collection = chromadb.EphemeralClient().create_collection(
        f"u_{uuid.uuid4().hex[:8]}", embedding_function=None
    )
    collection.add(ids=["a"], embeddings=[[0.1, 0.2]], documents=["x"])


def _qdrant(_server: Any) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection(
        "kb", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE)
    )
    client.upsert("kb", points=[models.PointStruct(id=1, vector=[0.1, 0.2])])


def _faiss(_server: Any) -> None:
    import faiss
    import numpy

    index = faiss.IndexFlatL2(2)
    index.add(numpy.array([[0.1, 0.2]], dtype="float32"))


async def _nats_publish(url: str) -> None:
    import nats

    client = await nats.connect(url)
    await client.publish("uninstrument.check", b"x")
    await client.close()


#: name -> one ordinary call through the real client. The servers these need are session fixtures.
CALLS: dict[str, Callable[[Any], None]] = {
    "botocore": _bedrock,
    "cohere": _cohere,
    "google.genai": _google,
    "ollama": _ollama,
    "groq": _groq,
    "mistralai": _mistral,
    "azure.ai.inference": _azure,
    "chromadb": _chroma,
    "qdrant_client": _qdrant,
    "faiss": _faiss,
}


@pytest.mark.parametrize("name", list(CALLS))
def test_calls_after_uninstrument_make_no_spans_and_reinstrument_wraps_once(name, spans, model_server):
    genai_otel.uninstrument()
    _instrument(name, spans)
    CALLS[name](model_server)
    traced = len(spans.get_finished_spans())
    assert traced >= 1, f"{name}: the call made no span while instrumented"
    genai_otel.uninstrument()
    spans.clear()
    CALLS[name](model_server)
    assert spans.get_finished_spans() == ()
    _instrument(name, spans)  # again: wrapped once, not on top of a leftover wrapper
    CALLS[name](model_server)
    assert len(spans.get_finished_spans()) == traced


def test_messaging_calls_after_uninstrument_make_no_spans(spans, redis_url, nats_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    genai_otel.uninstrument()
    for name in ("redis", "nats"):
        _instrument(name, spans)
    client.xadd("uninstrument-check", {"k": "v"})
    asyncio.run(_nats_publish(nats_url))
    assert sorted(s.name for s in spans.get_finished_spans()) == [
        "publish uninstrument.check",
        "xadd uninstrument-check",
    ]
    genai_otel.uninstrument()
    spans.clear()
    client.xadd("uninstrument-check", {"k": "v"})
    asyncio.run(_nats_publish(nats_url))
    assert spans.get_finished_spans() == ()


@pytest.mark.instrument_only("openai")
@pytest.mark.genai_settings(emit_event=True)
def test_a_test_that_reinstruments_keeps_the_fixtures_metric_and_log_providers(otel, openai_client):
    """Before, metrics and events after a re-instrument went to the global no-op providers: the teardown
    conformance check never saw them."""
    genai_otel.uninstrument()
    genai_otel.instrument(settings=otel.settings, only=["openai"])
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    duration = otel.metrics()[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION]
    assert sum(point.count for point in duration.data.data_points) == 1
    assert [r.event_name for r in otel.logs()] == [sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS]


_LITELLM_SCRIPT = """
from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import litellm
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.instrumentation.litellm import LiteLLMInstrumentor
from genai_otel.testing.model_server import ModelServer

_ABSENT = object()
{helpers}
before = _snapshot(list(LiteLLMInstrumentor().patches()))
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
out: dict[str, Any] = {{"targets": len(before)}}
genai_otel.instrument(tracer_provider=provider, only=["litellm"])
out["wrapped"] = len(_changed(before))
genai_otel.uninstrument()
out["left"] = _changed(before)
with ModelServer() as server:
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{{"role": "user", "content": "hi"}}],
        api_base=server.openai_base_url,
        api_key="sk-x",
    )
out["spans_after"] = len(exporter.get_finished_spans())
print(json.dumps(out))
"""


def test_litellm_uninstrument_restores_every_patched_attribute_in_its_own_venv():
    """LiteLLM runs in a venv of its own (tests/venvs.py); the same identity helpers run there."""
    import json
    import os
    import subprocess

    from .venvs import ensure

    helpers = "\n\n".join(inspect.getsource(f) for f in (_owner, _snapshot, _changed))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [str(ensure("litellm-venv")), "-c", _LITELLM_SCRIPT.format(helpers=helpers)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert result["targets"] >= 4 and result["wrapped"] == result["targets"], result
    assert result["left"] == [] and result["spans_after"] == 0, result
