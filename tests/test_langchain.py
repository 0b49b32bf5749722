"""LangChain + LangGraph through the real frameworks, the real OpenAI/Anthropic SDKs and the local model
server: trace shape for sync, async, streaming and parallel runs, one span per model call in every
instrumentation mix, retrieval over a real embedded Chroma store, errors and cancellation."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")

from langchain.agents import create_agent
from langchain_anthropic import ChatAnthropic
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from genai_otel import semconv
from genai_otel.config import ContentCapture

from .conftest import API_KEY
from .trees import named, render, traces

AGENT_TREE = [
    "invoke_agent weather_agent",
    "  model",
    "    chat gpt-4o-mini-tool",
    "  tools",
    "    execute_tool get_weather",
    "  model",
    "    chat gpt-4o-mini-tool",
]


@tool
def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


@tool("get_weather")
def broken_weather(city: str) -> str:
    """Always fails."""
    raise ValueError("tool exploded")


def _llm(model_server, model: str = "gpt-4o-mini-tool", **kwargs):
    import openai

    # LangChain caches one async HTTP client per base URL; each test's asyncio.run needs its own.
    return ChatOpenAI(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        max_retries=0,
        http_async_client=openai.DefaultAsyncHttpxClient(),
        **kwargs,
    )


def _agent(model_server, tools=(get_weather,)):
    return create_agent(_llm(model_server), list(tools), name="weather_agent")


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


# -- trace shape -------------------------------------------------------------------------------------


def test_sync_agent_is_one_trace_with_the_expected_tree(otel, model_server):
    _agent(model_server).invoke({"messages": [("user", "weather in Paris?")]})

    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == AGENT_TREE
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    tool_span = named(spans, "execute_tool")[0]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_0"
    assert tool_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "The weather for a city."


def test_async_parallel_agents_are_separate_complete_traces(otel, model_server):
    agent = _agent(model_server)

    async def main():
        await asyncio.gather(*(agent.ainvoke({"messages": [("user", f"q{i}")]}) for i in range(3)))

    asyncio.run(main())

    groups = traces(otel.spans())
    assert len(groups) == 3
    for spans in groups.values():
        assert render(spans, keep=_genai) == AGENT_TREE


def test_astream_then_ainvoke_do_not_nest_under_the_ended_stream(otel, model_server):
    """LangGraph ends runs in other tasks than it starts them; a later run must still be a new root."""
    agent = _agent(model_server)

    async def main():
        async for _ in agent.astream({"messages": [("user", "a")]}, stream_mode="messages"):
            pass
        await agent.ainvoke({"messages": [("user", "b")]})

    asyncio.run(main())

    groups = traces(otel.spans())
    assert len(groups) == 2
    for spans in groups.values():
        assert render(spans, keep=_genai) == AGENT_TREE


def test_astream_events_nests_chain_model_and_parser(otel, model_server):
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    chain = (
        ChatPromptTemplate.from_messages([("user", "{q}")])
        | _llm(model_server, "gpt-4o-mini")
        | StrOutputParser()
    )

    async def main():
        return [e async for e in chain.astream_events({"q": "hi"}, version="v2")]

    events = asyncio.run(main())
    assert any(e["event"] == "on_chat_model_stream" for e in events)
    assert render(otel.spans(), keep=_genai) == [
        "RunnableSequence",
        "  ChatPromptTemplate",
        "  chat gpt-4o-mini",
        "  StrOutputParser",
    ]
    chat = named(otel.spans(), "chat")[0]
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"


def test_parallel_branches_nest_under_their_parallel_parent(otel, model_server):
    llm = _llm(model_server, "gpt-4o-mini")
    parallel = RunnableParallel(
        a=llm, b=RunnableLambda(lambda x: llm.invoke(x)).with_config(run_name="via_lambda")
    )

    parallel.invoke("hello")
    asyncio.run(parallel.ainvoke("hello"))

    groups = traces(otel.spans())
    assert len(groups) == 2
    for spans in groups.values():
        lines = render(spans, keep=_genai)
        assert lines[0] == "RunnableParallel<a,b>"
        assert sorted(lines[1:]) == sorted(["  chat gpt-4o-mini", "  via_lambda", "    chat gpt-4o-mini"])
        # the branch under via_lambda really is its child, whatever order the branches started in
        assert lines[lines.index("  via_lambda") + 1] == "    chat gpt-4o-mini"


def test_streaming_chat_model_is_one_span_with_time_to_first_chunk(otel, model_server):
    llm = _llm(model_server, "gpt-4o-mini", streaming=True, stream_usage=True)
    text = "".join(chunk.content for chunk in llm.stream("hello there"))

    assert text == "Echo: hello there"
    (chat,) = otel.genai_spans()
    assert chat.name == "chat gpt-4o-mini"
    assert chat.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert semconv.METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK in otel.metrics()


# -- one span per model call ---------------------------------------------------------------------


def _only_chat(otel):
    chats = [s for s in otel.spans() if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(chats) == 1, [s.name for s in otel.spans()]
    return chats[0]


@pytest.mark.instrument_only("langchain_core")
def test_framework_only_chat_span_has_langchains_view(otel, model_server):
    _llm(model_server, "gpt-4o-mini", temperature=0.2).invoke("hi")

    chat = _only_chat(otel)
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert chat.attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"


@pytest.mark.instrument_only("openai")
def test_client_only_chat_span_is_the_sdks(otel, model_server):
    _llm(model_server, "gpt-4o-mini").invoke("hi")

    chat = _only_chat(otel)
    assert chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert chat.parent is None


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o-mini-cache-reason"])
def test_framework_and_client_merge_into_one_chat_span(otel, model_server, model):
    _llm(model_server, model).invoke("hi")

    chat = _only_chat(otel)
    # the client's exact view, merged: server, response model, cache and reasoning tokens
    assert chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert chat.attributes[semconv.GEN_AI_RESPONSE_MODEL].startswith(
        model + "-2026"
    )  # the server's dated name
    if "cache" in model:
        assert chat.attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10
        assert chat.attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 7
    duration = otel.metrics()[semconv.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION]
    assert sum(p.count for p in duration.data.data_points) == 1


@pytest.mark.parametrize("only", [None, ("langchain_core",), ("anthropic",)])
def test_anthropic_through_langchain_is_one_chat_span(otel, model_server, only, request):
    if only is not None:  # re-instrument with just the named libraries
        import genai_otel

        genai_otel.uninstrument()
        genai_otel.instrument(settings=otel.settings, only=list(only))
    llm = ChatAnthropic(model="claude-sonnet-4", base_url=model_server.url, api_key=API_KEY, max_retries=0)
    llm.invoke("hi")

    (chat,) = [s for s in otel.genai_spans() if s.name.startswith("chat")]
    # With the anthropic instrumentor off, the SDK's own span (if it emits one) is the SDK's business;
    # it nests under ours. With it on, it is folded into ours.
    sdk_spans = [s for s in otel.spans() if s.instrumentation_scope.name != "genai_otel"]
    assert all(s.parent.span_id == chat.context.span_id for s in sdk_spans)
    if only != ("langchain_core",):
        assert not sdk_spans
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID].startswith("msg_")


# -- retrieval ----------------------------------------------------------------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_retriever_over_chroma_records_query_and_documents(otel, model_server, tmp_path):
    from langchain_chroma import Chroma
    from langchain_core.documents import Document

    embeddings = OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        check_embedding_ctx_length=False,  # else it downloads a tokenizer
    )
    store = Chroma(collection_name="docs", embedding_function=embeddings, persist_directory=str(tmp_path))
    store.add_documents(
        [Document(page_content=t, id=f"d{i}") for i, t in enumerate(["Paris is sunny", "Oslo is cold"])]
    )
    otel_spans_before = len(otel.spans())
    docs = store.as_retriever(search_kwargs={"k": 2}).invoke("weather in Paris")

    assert len(docs) == 2
    spans = otel.spans()[otel_spans_before:]
    assert render(spans, keep=_genai) == [
        "retrieval Chroma",
        "  embeddings text-embedding-3-small",
        "  query docs",
    ]
    retrieval = named(spans, "retrieval")[0]
    assert retrieval.attributes[semconv.GEN_AI_DATA_SOURCE_ID] == "Chroma"
    assert retrieval.attributes[semconv.GEN_AI_RETRIEVAL_QUERY_TEXT] == "weather in Paris"
    returned = json.loads(retrieval.attributes[semconv.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert sorted(d["id"] for d in returned) == ["d0", "d1"]


# -- errors, cancellation, uninstrument ----------------------------------------------------------


def test_tool_error_ends_spans_with_error_and_reaches_the_caller(otel, model_server):
    agent = _agent(model_server, tools=(broken_weather,))
    with pytest.raises(ValueError, match="tool exploded"):
        agent.invoke({"messages": [("user", "x")]})

    spans = otel.spans()
    tool_span = named(spans, "execute_tool get_weather")[0]
    assert tool_span.attributes[semconv.ERROR_TYPE] == "ValueError"
    agent_span = named(spans, "invoke_agent")[0]
    assert agent_span.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert len(traces(spans)) == 1


def test_model_error_keeps_the_providers_exception(otel, model_server):
    import openai

    with pytest.raises(openai.RateLimitError) as raised:
        _llm(model_server, "gpt-4o-mini-error-429").invoke("hi")
    chat = _only_chat(otel)
    assert chat.attributes[semconv.ERROR_TYPE] == type(raised.value).__name__
    assert chat.status.status_code.name == "ERROR"


def test_cancelled_run_ends_every_span(otel, model_server):
    import genai_otel

    agent = create_agent(_llm(model_server, "gpt-4o-mini-slow"), [get_weather], name="slow_agent")

    async def main():
        task = asyncio.create_task(agent.ainvoke({"messages": [("user", "x")]}))
        # Cancel once the model call is under way (agent, model node and chat runs open), not after a guess.
        runs = genai_otel._active["langchain_core"].callback_handler
        for _ in range(500):
            if runs.open_runs >= 3:
                break
            await asyncio.sleep(0.01)
        assert runs.open_runs >= 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    agent_span = named(otel.spans(), "invoke_agent slow_agent")[0]
    assert agent_span.end_time is not None
    assert agent_span.attributes[semconv.ERROR_TYPE] == "CancelledError"
    assert named(otel.spans(), "chat")  # the model call ended too


def test_uninstrument_removes_the_handler(otel, model_server):
    from langchain_core.callbacks import BaseCallbackManager

    import genai_otel

    genai_otel.uninstrument()
    assert not hasattr(BaseCallbackManager.__init__, "__wrapped__")
    before = len(otel.spans())
    _llm(model_server, "gpt-4o-mini").invoke("hi", config={"run_id": uuid.uuid4()})
    assert len(otel.spans()) == before
