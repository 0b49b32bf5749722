"""Zero-code: unmodified apps (no OpenTelemetry code at all) under ``opentelemetry-instrument``, one per
integration family -- LLM clients of every provider the model server speaks, a framework with a vector
store (LangChain RAG over Chroma), a transport (an HTTP service calling a model, called by an HTTP client)
-- export their spans over OTLP to an in-memory receiver, where names, attributes, parentage and
conformance are checked. And the whole set of entry points loads under ``opentelemetry-instrument`` with
nothing at all on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture
from genai_otel.instrumentation import INSTRUMENTORS
from genai_otel.testing.conformance import check_log_records, check_spans, format_violations, span_view
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .trees import render
from .venvs import OWN_VENV_INSTRUMENTORS

INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
SECRET = "sk-zero-code-SECRET-key"


#: The heavy integrations an app of another family does not use: each imports its library when instrumented
#: (the entry-point test below loads them all). Leaving them out keeps each run a few seconds shorter.
_STORES_AND_FRAMEWORKS = (
    "genai_otel_langchain",
    "genai_otel_llamaindex",
    "genai_otel_haystack",
    "genai_otel_chromadb",
    "genai_otel_qdrant",
    "genai_otel_faiss",
    "genai_otel_lancedb",
    "genai_otel_pymilvus",
    "genai_otel_pgvector",
    "genai_otel_pinecone",
    "genai_otel_weaviate",
)


def run_app(
    source: str,
    tmp_path: Path,
    receiver: OtlpReceiver | None,
    disabled: tuple[str, ...] = (),
    **env_extra: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a script under ``opentelemetry-instrument`` exporting OTLP/gRPC to ``receiver``;
    ``disabled`` entry points are left out (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``)."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_OTEL_"))}
    env.update(
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_TRACES_EXPORTER="otlp" if receiver else "none",
        OTEL_METRICS_EXPORTER="otlp" if receiver else "none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_INSECURE="true",
        APP_API_KEY=SECRET,
        ANONYMIZED_TELEMETRY="False",
    )
    env.update(env_extra)
    if receiver:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    if disabled:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = ",".join(disabled)
    done = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(app)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "app done" in done.stdout, done.stdout[-2000:]
    return done


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as server:
        yield server


def _genai(receiver: OtlpReceiver) -> list[Any]:
    return [span for scope, span in receiver.spans() if scope.name == "genai_otel"]


def _assert_conformant(spans: list[Any], content: bool = False) -> None:
    violations = check_spans([span_view(s) for s in spans], content_captured=content)
    assert not violations, format_violations(violations)


def _attributes(span: Any) -> dict[str, Any]:
    return span_view(span).attributes


# -- LLM clients -------------------------------------------------------------------------------------------

CLIENTS_APP = """
import os

import boto3
import cohere
import groq
import ollama
from azure.ai.inference import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential
from google import genai
from google.genai import types
from mistralai.client import Mistral

base, key = os.environ["MODEL_SERVER_URL"], os.environ["APP_API_KEY"]
hi = [{"role": "user", "content": "hi there"}]
cohere.ClientV2(api_key=key, base_url=base).chat(model="command-a", messages=hi)
gemini = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base))
gemini.models.generate_content(model="gemini-2.5-flash", contents="hi there")
ollama.Client(host=base).chat(model="llama3.2", messages=hi)
bedrock = boto3.client(
    "bedrock-runtime",
    region_name="us-east-1",
    endpoint_url=base,
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key=key,
)
bedrock.converse(modelId="anthropic.claude-sonnet", messages=[{"role": "user", "content": [{"text": "hi"}]}])
groq.Groq(base_url=base, api_key=key, max_retries=0).chat.completions.create(model="llama-groq", messages=hi)
Mistral(api_key=key, server_url=base).chat.complete(model="mistral-small", messages=hi)
azure = ChatCompletionsClient(endpoint=base + "/models", credential=AzureKeyCredential(key))
azure.complete(model="azure-model", messages=hi)
print("app done")
"""

#: span name -> gen_ai.provider.name, one per call of CLIENTS_APP.
CLIENT_SPANS = {
    "chat command-a": "cohere",
    "generate_content gemini-2.5-flash": "gcp.gemini",
    "chat llama3.2": "ollama",
    "chat anthropic.claude-sonnet": "aws.bedrock",
    "chat llama-groq": "groq",
    "chat mistral-small": "mistral_ai",
    "chat azure-model": "azure.ai.inference",
}


def test_llm_clients_under_opentelemetry_instrument(model_server, receiver, tmp_path):
    run_app(
        CLIENTS_APP,
        tmp_path,
        receiver,
        _STORES_AND_FRAMEWORKS,
        MODEL_SERVER_URL=model_server.url,
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT="true",  # the operation-details events, without content
    )
    spans = _genai(receiver)
    assert sorted(s.name for s in spans) == sorted(CLIENT_SPANS)
    for span in spans:
        a = _attributes(span)
        assert a[sc.GEN_AI_PROVIDER_NAME] == CLIENT_SPANS[span.name], span.name
        assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 and a[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0, span.name
        assert a[sc.SERVER_ADDRESS] == "127.0.0.1", span.name
        assert not span.parent_span_id, f"{span.name}: the app has no span of its own: a root"
        assert span.kind == 3, span.name  # CLIENT
    _assert_conformant(spans)
    # One span per model call: no SDK's own GenAI span besides ours (mistralai, azure trace themselves).
    others = [s for scope, s in receiver.spans() if scope.name != "genai_otel"]
    assert not [s.name for s in others if any(kv.key.startswith("gen_ai.") for kv in s.attributes)]
    # The SDKs' HTTP requests (httpx / requests instrumentations) are children of their model span.
    ids = {s.span_id: s.name for s in spans}
    http = [s for s in others if s.kind == 3]
    assert http and all(s.parent_span_id in ids for s in http), [(s.name, s.parent_span_id) for s in http]
    assert {sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION} <= {m.name for m in receiver.metrics()}
    assert SECRET not in repr(receiver.trace_requests)
    events = [
        r for r in receiver.logs() if r.event_name == sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
    ]
    assert len(events) == len(CLIENT_SPANS)
    assert {r.span_id for r in events} == {s.span_id for s in spans}  # each tied to its span
    violations = check_log_records(receiver.logs(), content_captured=False)
    assert not violations, format_violations(violations)
    assert "hi there" not in repr(receiver.log_requests)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_AND_EVENT)
@pytest.mark.instrument_only("openai")
def test_the_event_check_finds_content_in_events_when_capture_is_off(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(otel.logs()) == 1
    rules = {(v.rule, v.detail.split()[0]) for v in check_log_records(otel.logs(), content_captured=False)}
    assert rules == {("content-off", sc.GEN_AI_INPUT_MESSAGES), ("content-off", sc.GEN_AI_OUTPUT_MESSAGES)}
    assert check_log_records(otel.logs(), content_captured=True) == []


# -- a framework with a vector store -----------------------------------------------------------------------

RAG_APP = """
import os

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

local = {"base_url": os.environ["MODEL_SERVER_URL"] + "/v1", "api_key": os.environ["APP_API_KEY"]}
embeddings = OpenAIEmbeddings(model="text-embedding-3-small", check_embedding_ctx_length=False, **local)
store = Chroma("knowledge", embedding_function=embeddings, persist_directory="store")
store.add_documents([Document(page_content=t, id=t[:4]) for t in ("trace context", "baggage", "vectors")])
prompt = ChatPromptTemplate.from_messages([("user", "{context}\\n\\nQuestion: {question}")])
retriever = store.as_retriever(search_kwargs={"k": 2})
llm = ChatOpenAI(model="gpt-4o-mini", **local)
chain = {"context": retriever, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()
print(chain.invoke("How does context travel?")[:40])
print("app done")
"""

RAG_TREE = [
    "RunnableSequence",
    "  RunnableParallel<context,question>",
    "    retrieval Chroma",
    "      embeddings text-embedding-3-small",
    "      query knowledge",
    "    RunnablePassthrough",
    "  ChatPromptTemplate",
    "  chat gpt-4o-mini",
    "  StrOutputParser",
]


def test_framework_and_vector_store_under_opentelemetry_instrument(model_server, receiver, tmp_path):
    others = tuple(
        n for n in _STORES_AND_FRAMEWORKS if n not in ("genai_otel_langchain", "genai_otel_chromadb")
    )
    run_app(RAG_APP, tmp_path, receiver, others, MODEL_SERVER_URL=model_server.url)
    spans = receiver.tree_spans()
    # HTTP client spans of the SDK calls are left out of the shape (their parents are checked above).
    tree = render(spans, keep=lambda s: not s.name.startswith("POST"))
    start = tree.index("RunnableSequence")
    assert tree[start : start + len(RAG_TREE)] == RAG_TREE, tree
    # Ingestion: the store's add is a db span with the embeddings call before it, both roots.
    db = [s for s in spans if s.attributes.get(sc.DB_SYSTEM_NAME) == "chroma"]
    assert {s.name for s in db} >= {"query knowledge"} and any(s.name.endswith(" knowledge") for s in db)
    model = [s for s in spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) in ("chat", "embeddings")]
    assert len(model) == 3, [s.name for s in model]  # ingestion embeddings, query embeddings, the answer
    _assert_conformant(_genai(receiver))


# -- a transport: an HTTP service calling a model, called by an HTTP client ------------------------------

SERVICE_APP = """
import os
import threading

import openai
import requests
from flask import Flask
from werkzeug.serving import make_server

app = Flask("answers")
model = openai.OpenAI(base_url=os.environ["MODEL_SERVER_URL"] + "/v1", api_key=os.environ["APP_API_KEY"])


@app.route("/ask")
def ask():
    reply = model.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content


server = make_server("127.0.0.1", 0, app)
threading.Thread(target=server.serve_forever, daemon=True).start()
answer = requests.get(f"http://127.0.0.1:{server.server_port}/ask", timeout=30)
assert answer.status_code == 200, answer.text
server.shutdown()
print("app done")
"""


def test_http_service_under_opentelemetry_instrument_is_one_trace(model_server, receiver, tmp_path):
    run_app(SERVICE_APP, tmp_path, receiver, _STORES_AND_FRAMEWORKS, MODEL_SERVER_URL=model_server.url)
    spans = receiver.tree_spans()
    assert render(spans) == ["GET", "  GET /ask", "    chat gpt-4o-mini", "      POST"], render(spans)
    assert len({s.context.trace_id for s in spans}) == 1  # the client's context reached the service
    _assert_conformant(_genai(receiver))


# -- every entry point loads, silently ---------------------------------------------------------------------

ENTRY_POINTS_APP = """
import json
from importlib import metadata

out = {}
for ep in metadata.entry_points(group="opentelemetry_instrumentor"):
    if ep.value.startswith("genai_otel."):
        out[ep.name] = ep.load()().is_instrumented_by_opentelemetry  # instrumentors are singletons
print(json.dumps(out))
print("app done")
"""


def _declared_entry_points() -> set[str]:
    dist = metadata.distribution("genai-otel")
    return {ep.name for ep in dist.entry_points if ep.group == "opentelemetry_instrumentor"}


@pytest.fixture(scope="module")
def entry_points_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, bool]]:
    done = run_app(ENTRY_POINTS_APP, tmp_path_factory.mktemp("entry-points"), None)
    return done.stderr, json.loads(done.stdout.splitlines()[0])


def test_all_entry_points_load_under_opentelemetry_instrument_with_nothing_on_stderr(entry_points_run):
    stderr, loaded = entry_points_run
    assert stderr == ""
    declared = _declared_entry_points()
    assert len(declared) == len(INSTRUMENTORS) and set(loaded) == declared
    # LiteLLM and some agent frameworks run in venvs of their own (tests/venvs.py), not here.
    absent = {
        f"genai_otel_{path.split(':')[0].rsplit('.', 1)[1]}"
        for name, path in INSTRUMENTORS.items()
        if name in OWN_VENV_INSTRUMENTORS
    }
    assert {name for name, on in loaded.items() if not on} <= absent, loaded


def test_an_instrumentor_whose_library_is_absent_does_not_claim_to_instrument(entry_points_run):
    _stderr, loaded = entry_points_run
    assert loaded["genai_otel_litellm"] is False


# -- agent frameworks: the same trees as under instrument() -----------------------------------------------

AGENTS_APP = """
import asyncio
import os

from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from openai import AsyncOpenAI
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

base_url = os.environ["MODEL_SERVER_URL"] + "/v1"


def get_weather(city: str) -> str:
    "Current weather for a city."
    return f"Sunny in {city}"


async def main() -> None:
    set_trace_processors([])  # the SDK's exporter to OpenAI's backend off: genai-otel's processor stays
    model = OpenAIChatCompletionsModel("gpt-4o-mini-tool", AsyncOpenAI(base_url=base_url, api_key="x"))
    tools = [function_tool(get_weather)]
    agent = Agent(name="weather", instructions="Use the tool.", model=model, tools=tools)
    await Runner.run(agent, "Weather in Paris?")
    provider = OpenAIProvider(base_url=base_url, api_key="x")
    typed_model = OpenAIChatModel("gpt-4o-mini-tool", provider=provider)
    typed = PydanticAgent(typed_model, name="typed", tools=[get_weather])
    await typed.run("Weather in Paris?")


asyncio.run(main())
print("app done")
"""


def test_agent_frameworks_under_opentelemetry_instrument(model_server, receiver, tmp_path):
    run_app(AGENTS_APP, tmp_path, receiver, _STORES_AND_FRAMEWORKS, MODEL_SERVER_URL=model_server.url)
    spans = _genai(receiver)
    names = [s.name for s in spans]
    assert names.count("handle_conversation_turn weather") == 1, names
    for agent in ("weather", "typed"):
        (run,) = [s for s in spans if s.name == f"invoke_agent {agent}"]
        below = [s for s in spans if s.parent_span_id == run.span_id]
        # One span per model call (the framework's and the openai SDK's merged) and the tool between them.
        chats = [s for s in below if s.name == "chat gpt-4o-mini-tool"]
        assert len(chats) == 2 and all(_attributes(c)[sc.GEN_AI_RESPONSE_ID] for c in chats), names
        assert [s.name for s in below].count("execute_tool get_weather") == 1, names
    assert names.count("chat gpt-4o-mini-tool") == 4, names
    _assert_conformant(spans)
