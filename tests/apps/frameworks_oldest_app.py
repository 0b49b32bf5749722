"""Runs in the oldest-frameworks virtualenv (the oldest release series genai-otel claims: langchain-core 0.3
with langgraph 0.2, llama-index-core 0.12, haystack-ai 2.10, openai 1.x): framework runs against the
local model server with the clients instrumented too; prints each scenario's trace trees as JSON for
tests/test_frameworks_oldest.py."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv
from genai_otel.testing.conformance import check_spans
from genai_otel.testing.model_server import ModelServer
from tests.trees import render, traces

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
instrumented = genai_otel.instrument()


REPORTED = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.SERVER_ADDRESS)


def scenario(name: str, run) -> None:
    exporter.clear()
    run()
    spans = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == "genai_otel"]
    model_spans = [
        s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) in ("chat", "embeddings")
    ]
    print(
        json.dumps(
            {
                "scenario": name,
                "trees": [render(group) for group in traces(spans).values()],
                "violations": [str(v) for v in check_spans(spans, content_captured=False)],
                "model_spans": [
                    {
                        k: s.attributes.get(k)
                        for k in (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.SERVER_ADDRESS)
                    }
                    for s in model_spans
                ],
            }
        ),
        flush=True,
    )


def langchain_scenarios(server: ModelServer) -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    def llm(model: str) -> ChatOpenAI:
        return ChatOpenAI(model=model, base_url=server.openai_base_url, api_key="x", max_retries=0)

    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | llm("gpt-4o-mini") | StrOutputParser()
    scenario("langchain_chain", lambda: chain.invoke({"q": "hi"}))

    async def parallel() -> None:
        await asyncio.gather(*(chain.ainvoke({"q": f"q{i}"}) for i in range(3)))

    scenario("langchain_async_parallel", lambda: asyncio.run(parallel()))

    @tool
    def get_weather(city: str) -> str:
        """The weather for a city."""
        return f"Sunny in {city}"

    agent = create_react_agent(llm("gpt-4o-mini-tool"), [get_weather])
    scenario("langgraph_agent", lambda: agent.invoke({"messages": [("user", "weather in Paris?")]}))


def llamaindex_scenarios(server: ModelServer) -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.embeddings.ollama import OllamaEmbedding
    from llama_index.llms.ollama import Ollama

    embed = OllamaEmbedding(model_name="nomic-embed-text", base_url=server.url)
    index = VectorStoreIndex.from_documents(
        [Document(text="Paris is sunny.", id_="d0"), Document(text="Oslo is cold.", id_="d1")],
        embed_model=embed,
    )
    engine = index.as_query_engine(llm=Ollama(model="llama3", base_url=server.url, request_timeout=10))
    scenario("llamaindex_query", lambda: engine.query("weather in Paris?"))


def haystack_scenarios(server: ModelServer) -> None:
    from haystack import Pipeline
    from haystack.components.builders import ChatPromptBuilder
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.dataclasses import ChatMessage
    from haystack.utils import Secret

    pipeline = Pipeline()
    pipeline.add_component("prompt", ChatPromptBuilder(template=[ChatMessage.from_user("Q: {{q}}")]))
    pipeline.add_component(
        "llm",
        OpenAIChatGenerator(
            api_key=Secret.from_token("x"), api_base_url=server.openai_base_url, model="gpt-4o-mini"
        ),
    )
    pipeline.connect("prompt.prompt", "llm.messages")
    scenario("haystack_pipeline", lambda: pipeline.run({"prompt": {"q": "hi"}}))


if __name__ == "__main__":
    print(json.dumps({"scenario": "header", "instrumented": instrumented}), flush=True)
    with ModelServer() as server:
        langchain_scenarios(server)
        llamaindex_scenarios(server)
        haystack_scenarios(server)
