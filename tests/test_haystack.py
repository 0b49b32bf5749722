"""Haystack through our own ``haystack.tracing`` backend: a RAG pipeline over a real embedded Chroma store,
Agent components with tools, parallel async runs, streaming, and one span per model call in every
instrumentation mix."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("haystack")

from haystack import Document, Pipeline, tracing
from haystack.components.agents import Agent
from haystack.components.builders import ChatPromptBuilder
from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.dataclasses import ChatMessage
from haystack.tools import tool
from haystack.utils import Secret

from genai_otel import semconv
from genai_otel.config import ContentCapture

from .conftest import API_KEY
from .trees import named, render, traces

RAG_TREE = [
    "haystack.pipeline.run",
    "  embeddings text-embedding-3-small",
    "  retrieval ChromaEmbeddingRetriever",
    "    query documents",
    "  prompt",
    "  chat gpt-4o-mini",
]


@tool
def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


def _key() -> Secret:
    return Secret.from_token(API_KEY)


def _generator(model_server, model: str = "gpt-4o-mini", **kwargs) -> OpenAIChatGenerator:
    return OpenAIChatGenerator(
        api_key=_key(), api_base_url=model_server.openai_base_url, model=model, **kwargs
    )


def _rag_pipeline(model_server, store, retriever) -> Pipeline:
    """embedder -> retriever -> prompt builder -> chat generator, over three stored documents."""

    def embedder(cls):
        return cls(api_key=_key(), api_base_url=model_server.openai_base_url, model="text-embedding-3-small")

    texts = ["Paris is sunny today.", "Oslo is cold.", "Rome is warm."]
    docs = embedder(OpenAIDocumentEmbedder).run(
        [Document(content=t, id=f"d{i}") for i, t in enumerate(texts)]
    )
    store.write_documents(docs["documents"])
    pipeline = Pipeline()
    pipeline.add_component("embedder", embedder(OpenAITextEmbedder))
    pipeline.add_component("retriever", retriever)
    template = [
        ChatMessage.from_user("{% for d in documents %}{{ d.content }} {% endfor %}Q: {{ question }}")
    ]
    pipeline.add_component("prompt", ChatPromptBuilder(template=template, required_variables="*"))
    pipeline.add_component("llm", _generator(model_server))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "prompt.documents")
    pipeline.connect("prompt.prompt", "llm.messages")
    from tests.conftest import _SPANS

    _SPANS.clear()  # the ingestion's spans
    return pipeline


@pytest.fixture
def rag(model_server, otel, tmp_path):
    """The RAG pipeline over an embedded Chroma store."""
    from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
    from haystack_integrations.document_stores.chroma import ChromaDocumentStore

    store = ChromaDocumentStore(persist_path=str(tmp_path))
    return _rag_pipeline(model_server, store, ChromaEmbeddingRetriever(document_store=store, top_k=2))


@pytest.fixture
def in_memory_rag(model_server, otel):
    """The RAG pipeline over Haystack's in-memory store (embedded Chroma has no async API)."""
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    return _rag_pipeline(model_server, store, InMemoryEmbeddingRetriever(document_store=store, top_k=2))


def _inputs(question: str) -> dict:
    return {"embedder": {"text": question}, "prompt": {"question": question}}


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_rag_pipeline_is_one_trace_with_the_expected_tree(otel, rag):
    result = rag.run(_inputs("weather in Paris?"))

    assert "Q: weather in Paris?" in result["llm"]["replies"][0].text
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == RAG_TREE
    retrieval = named(spans, "retrieval")[0]
    assert len(json.loads(retrieval.attributes[semconv.GEN_AI_RETRIEVAL_DOCUMENTS])) == 2
    embeddings = named(spans, "embeddings")[0]
    assert embeddings.attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    chat = named(spans, "chat")[0]
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"
    assert chat.attributes[semconv.GENAI_OTEL_COMPONENT_NAME] == "llm"
    assert chat.attributes[semconv.GENAI_OTEL_COMPONENT_TYPE] == "OpenAIChatGenerator"
    assert "Q: weather in Paris?" in chat.attributes[semconv.GEN_AI_INPUT_MESSAGES]


def test_parallel_async_runs_are_separate_complete_traces(otel, in_memory_rag):
    async def main():
        return await asyncio.gather(*(in_memory_rag.run_async(_inputs(f"question {i}")) for i in range(3)))

    asyncio.run(main())

    groups = traces(otel.spans())
    assert len(groups) == 3
    expected = [
        line.replace("ChromaEmbeddingRetriever", "InMemoryEmbeddingRetriever")
        for line in RAG_TREE
        if "query documents" not in line  # Chroma's own span
    ]
    for spans in groups.values():
        assert render(spans, keep=_genai) == expected


def test_agent_component_is_invoke_agent_with_steps_and_tools(otel, model_server):
    pipeline = Pipeline()
    pipeline.add_component(
        "weather_agent",
        Agent(chat_generator=_generator(model_server, "gpt-4o-mini-tool"), tools=[get_weather]),
    )
    pipeline.run({"weather_agent": {"messages": [ChatMessage.from_user("weather in Paris?")]}})

    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == [
        "haystack.pipeline.run",
        "  invoke_agent weather_agent",
        "    haystack.agent.step",
        "      chat gpt-4o-mini-tool",
        "      execute_tool get_weather",
        "    haystack.agent.step",
        "      chat gpt-4o-mini-tool",
    ]
    tool_span = named(spans, "execute_tool")[0]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "The weather for a city."
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_AGENT_STEPS] == 3  # two model calls, one tool call


def test_streaming_generator_is_one_chat_span(otel, model_server):
    chunks = []
    pipeline = Pipeline()
    pipeline.add_component("llm", _generator(model_server, streaming_callback=chunks.append))
    pipeline.run({"llm": {"messages": [ChatMessage.from_user("hello there")]}})

    assert len(chunks) > 1
    (chat,) = [s for s in otel.spans() if s.name.startswith("chat")]
    assert chat.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


@pytest.mark.parametrize("only", [None, ("haystack",), ("openai",)], ids=["both", "framework", "client"])
def test_each_model_call_is_one_span_in_every_mix(otel, rag, only):
    import genai_otel

    if only is not None:
        genai_otel.uninstrument()
        genai_otel.instrument(settings=otel.settings, only=list(only))
    rag.run(_inputs("weather?"))

    model_spans = [
        s for s in otel.spans() if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) in ("chat", "embeddings")
    ]
    assert sorted(s.attributes[semconv.GEN_AI_OPERATION_NAME] for s in model_spans) == ["chat", "embeddings"]
    chat = named(model_spans, "chat")[0]
    assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[semconv.GEN_AI_REQUEST_MODEL].startswith("gpt-4o-mini")


def test_failing_component_ends_spans_with_the_error(otel, model_server):
    import openai

    pipeline = Pipeline()
    pipeline.add_component("llm", _generator(model_server, "gpt-4o-mini-error-500", max_retries=0))
    with pytest.raises(Exception) as raised:
        pipeline.run({"llm": {"messages": [ChatMessage.from_user("hi")]}})

    cause = raised.value.__cause__ or raised.value
    assert isinstance(cause, openai.InternalServerError)
    chat = named(otel.spans(), "chat")[0]
    assert chat.status.status_code.name == "ERROR"
    root = named(otel.spans(), "haystack.pipeline.run")[0]
    assert root.status.status_code.name == "ERROR"


def test_uninstrument_restores_the_previous_tracer(otel, model_server):
    import genai_otel

    assert type(tracing.tracer.actual_tracer).__name__ == "GenAITracer"
    genai_otel.uninstrument()
    assert not tracing.is_tracing_enabled()
