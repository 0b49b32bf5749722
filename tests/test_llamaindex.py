"""LlamaIndex through its instrumentation dispatcher: RAG over a real embedded Chroma store, streaming,
workflow agents, parallel queries, one span per model call in every instrumentation mix."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.embeddings.ollama import OllamaEmbedding
from llama_index.llms.ollama import Ollama

from genai_otel import semconv
from genai_otel.config import ContentCapture

from .conftest import API_KEY
from .trees import named, render, traces

DOCUMENTS = [("d0", "Paris is sunny today."), ("d1", "Oslo is cold and snowy."), ("d2", "Rome is warm.")]

QUERY_TREE = [
    "RetrieverQueryEngine.query",
    "  retrieval ChromaVectorStore",
    "    embeddings nomic-embed-text",
    "    query docs",
    "  CompactAndRefine.synthesize",
    "    CompactAndRefine.get_response",
    "      CompactAndRefine.get_response",
    "        DefaultRefineProgram.__call__",
    "          Ollama.predict",
    "            chat llama3",
]


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


def _llm(model_server, model: str = "llama3") -> Ollama:
    return Ollama(model=model, base_url=model_server.url, request_timeout=10)


@pytest.fixture
def index(model_server, tmp_path, otel):
    """A Chroma-backed index of three documents; the spans ingestion made are cleared."""
    import chromadb
    from llama_index.vector_stores.chroma import ChromaVectorStore

    collection = chromadb.PersistentClient(path=str(tmp_path)).get_or_create_collection("docs")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    embed = OllamaEmbedding(model_name="nomic-embed-text", base_url=model_server.url)
    docs = [Document(text=text, id_=doc_id) for doc_id, text in DOCUMENTS]
    built = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed)
    from tests.conftest import _SPANS

    _SPANS.clear()
    return built


def _engine(index, model_server, model: str = "llama3"):
    return index.as_query_engine(llm=_llm(model_server, model), similarity_top_k=2)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_query_engine_is_one_trace_with_the_expected_tree(otel, model_server, index):
    answer = _engine(index, model_server).query("weather in Paris?")

    assert "Paris" in str(answer)
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == QUERY_TREE
    retrieval = named(spans, "retrieval")[0]
    assert retrieval.attributes[semconv.GEN_AI_DATA_SOURCE_ID] == "ChromaVectorStore"
    assert retrieval.attributes[semconv.GEN_AI_RETRIEVAL_QUERY_TEXT] == "weather in Paris?"
    documents = json.loads(retrieval.attributes[semconv.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert len(documents) == 2 and all(isinstance(d["score"], float) for d in documents)
    chat = named(spans, "chat")[0]
    # the ollama client's exact usage merged into LlamaIndex's chat span
    assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 10
    assert chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert "Paris is sunny" in chat.attributes[semconv.GEN_AI_INPUT_MESSAGES]


def test_parallel_async_queries_are_separate_complete_traces(otel, model_server, index):
    engine = _engine(index, model_server)

    async def main():
        return await asyncio.gather(*(engine.aquery(f"question {i}") for i in range(3)))

    asyncio.run(main())

    groups = traces(otel.spans())
    assert len(groups) == 3
    async_tree = [
        line.replace(".query", ".aquery")
        .replace(".synthesize", ".asynthesize")
        .replace(".get_response", ".aget_response")
        .replace("Ollama.predict", "Ollama.apredict")
        for line in QUERY_TREE
        if "DefaultRefineProgram" not in line
    ]
    async_tree = [line[2:] if line.startswith("          ") else line for line in async_tree]
    for spans in groups.values():
        assert render(spans, keep=_genai) == async_tree


@pytest.mark.parametrize("is_async", [False, True])
def test_streamed_chat_is_one_span_ended_when_the_stream_ends(otel, model_server, is_async):
    llm = _llm(model_server)
    messages = [ChatMessage(role="user", content="hello there")]
    if is_async:

        async def main():
            stream = await llm.astream_chat(messages)
            return "".join([chunk.delta async for chunk in stream])

        text = asyncio.run(main())
    else:
        text = "".join(chunk.delta for chunk in llm.stream_chat(messages))

    assert text == "Echo: hello there"
    (chat,) = otel.genai_spans()
    assert chat.name == "chat llama3"
    assert chat.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert chat.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_a_stream_dropped_unfinished_still_ends_its_span(otel, model_server):
    import gc

    stream = _llm(model_server).stream_chat([ChatMessage(role="user", content="one two three four")])
    next(stream)
    assert not otel.genai_spans()  # still streaming
    del stream
    gc.collect()
    (chat,) = otel.genai_spans()
    assert chat.name == "chat llama3" and chat.end_time is not None


def test_function_agent_is_invoke_agent_with_tool_spans(otel, model_server):
    def get_weather(city: str) -> str:
        """The weather for a city."""
        return f"Sunny in {city}"

    agent = FunctionAgent(
        tools=[get_weather],
        llm=_llm(model_server, "llama3-tool"),
        name="weather_agent",
        system_prompt="Be brief.",
    )

    async def main():
        return await agent.run("weather in Paris?")

    asyncio.run(main())
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == [
        "invoke_agent weather_agent",
        "  BaseWorkflowAgent.run_agent_step",
        "    chat llama3-tool",
        "  execute_tool get_weather",
        "  BaseWorkflowAgent.run_agent_step",
        "    chat llama3-tool",
    ]
    tool_span = named(spans, "execute_tool")[0]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION].endswith("The weather for a city.")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID]
    agent_span = named(spans, "invoke_agent")[0]
    assert agent_span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "llama_index"


# -- one span per model call ---------------------------------------------------------------------


def _model_spans(otel):
    return [
        s
        for s in otel.spans()
        if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) in ("chat", "embeddings", "text_completion")
    ]


@pytest.mark.parametrize(
    "only", [None, ("llama_index.core",), ("ollama",)], ids=["both", "framework", "client"]
)
def test_each_model_call_is_one_span_in_every_mix(otel, model_server, index, only):
    import genai_otel

    if only is not None:
        genai_otel.uninstrument()
        genai_otel.instrument(settings=otel.settings, only=list(only))
    _engine(index, model_server).query("weather in Paris?")

    assert sorted(s.name for s in _model_spans(otel)) == ["chat llama3", "embeddings nomic-embed-text"]
    chat = named(otel.spans(), "chat")[0]
    assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 10
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "ollama"


@pytest.mark.parametrize(
    "only", [None, ("llama_index.core",), ("openai",)], ids=["both", "framework", "client"]
)
def test_openai_embeddings_are_one_span_in_every_mix(otel, model_server, only):
    from llama_index.embeddings.openai import OpenAIEmbedding

    import genai_otel

    if only is not None:
        genai_otel.uninstrument()
        genai_otel.instrument(settings=otel.settings, only=list(only))
    embed = OpenAIEmbedding(
        model_name="text-embedding-3-small",
        api_base=model_server.openai_base_url,
        api_key=API_KEY,
        dimensions=16,
    )
    embed.get_text_embedding_batch(["one", "two", "three"])

    (span,) = _model_spans(otel)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 16
    if only != ("llama_index.core",):  # the client knows the exact usage
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3


# -- errors, uninstrument -----------------------------------------------------------------------


def test_model_error_ends_the_span_and_reaches_the_caller(otel, model_server):
    import ollama

    with pytest.raises(ollama.ResponseError):
        _llm(model_server, "llama3-error-500").chat([ChatMessage(role="user", content="hi")])
    (chat,) = _model_spans(otel)
    assert chat.status.status_code.name == "ERROR"
    assert chat.attributes[semconv.ERROR_TYPE] == "ResponseError"


def test_broken_stream_ends_the_span_with_the_error(otel, model_server):
    llm = _llm(model_server, "llama3-stream-break")
    with pytest.raises(Exception) as raised:
        for _ in llm.stream_chat([ChatMessage(role="user", content="one two three four five")]):
            pass
    (chat,) = _model_spans(otel)
    assert chat.attributes[semconv.ERROR_TYPE] == type(raised.value).__name__


def test_uninstrument_removes_the_handlers(otel, model_server):
    from llama_index.core.instrumentation import get_dispatcher

    import genai_otel

    genai_otel.uninstrument()
    dispatcher = get_dispatcher()
    assert not [h for h in dispatcher.span_handlers if type(h).__name__ == "GenAISpanHandler"]
    assert not [h for h in dispatcher.event_handlers if type(h).__name__ == "GenAIEventHandler"]
    _llm(model_server).chat([ChatMessage(role="user", content="hi")])
    assert otel.spans() == []
