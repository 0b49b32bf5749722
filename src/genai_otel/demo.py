"""``genai-otel demo``: instrumented calls against the local model server, shown as trace trees: an agent
making client calls, and (with the ``rag`` extra) a LangChain RAG chain over an embedded Chroma store.

Needs no backend and no API key. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, the same spans and
metrics are also exported over OTLP/gRPC.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel.console import render_tree
from genai_otel.testing.model_server import ModelServer

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _providers(resource: Resource) -> tuple[TracerProvider, InMemorySpanExporter, Any]:
    tracer_provider = TracerProvider(resource=resource)
    memory = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    meter_provider = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        meter_provider = MeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
        )
        metrics.set_meter_provider(meter_provider)
    trace.set_tracer_provider(tracer_provider)
    return tracer_provider, memory, meter_provider


def _openai_calls(server: ModelServer) -> None:
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key="demo-key", max_retries=0)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o-mini-tool", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    with genai_otel.tool(call.function.name, call_id=call.id, description="Current weather for a city"):
        result = {"city": json.loads(call.function.arguments)["city"], "temperature_c": 18}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
    ]
    client.chat.completions.create(model="gpt-4o-mini-cache", messages=messages)
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Stream a haiku"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _chunk in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input=["Paris is in France", "Rome is in Italy"])
    client.responses.create(model="o4-mini", input="Summarise the weather report")


def _anthropic_calls(server: ModelServer) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=server.url, api_key="demo-key", max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-cache",
        max_tokens=200,
        messages=[{"role": "user", "content": "Write a limerick"}],
    ) as stream:
        stream.get_final_message()


def _rag_calls(server: ModelServer) -> bool:
    """A LangChain RAG chain over an embedded Chroma store, as its own trace; False when not installed."""
    try:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    except ImportError:
        return False
    local = {"base_url": server.openai_base_url, "api_key": "demo-key"}
    # check_embedding_ctx_length=False: LangChain would otherwise download a tokenizer.
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", check_embedding_ctx_length=False, **local)
    chain = ChatPromptTemplate.from_messages([("user", "{context}\n\nQuestion: {question}")]) | ChatOpenAI(
        model="gpt-4o-mini", **local
    )
    with trace.get_tracer("genai-otel-demo").start_as_current_span("rag ingest and ask"):
        store = Chroma("demo-knowledge", embedding_function=embeddings, client=chromadb.EphemeralClient())
        store.add_texts(["Traces follow requests across services.", "Baggage carries the conversation id."])
        question = "How do traces cross services?"
        docs = store.as_retriever(search_kwargs={"k": 1}).invoke(question)
        chain.invoke({"context": docs[0].page_content, "question": question})
    return True


def run() -> int:
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "genai-otel-demo")})
    tracer_provider, memory, meter_provider = _providers(resource)
    instrumented = genai_otel.instrument()
    print(f"genai-otel {genai_otel.__version__}: instrumented {', '.join(instrumented) or 'nothing'}")
    with ModelServer() as server:
        print(f"local model server on {server.url}\n")
        with genai_otel.agent("weather assistant", conversation_id="demo-conversation"):
            if "openai" in instrumented:
                _openai_calls(server)
            if "anthropic" in instrumented:
                _anthropic_calls(server)
        rag_shown = _rag_calls(server)
    print(render_tree(memory.get_finished_spans()))
    if not rag_shown:
        print("\n(pip install 'genai-otel[rag]' to also see a RAG trace: LangChain over embedded Chroma)")
    genai_otel.uninstrument()
    tracer_provider.shutdown()
    if meter_provider is not None:
        meter_provider.shutdown()
        print(f"\nexported to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']} over OTLP/gRPC")
    else:
        print("\n(set OTEL_EXPORTER_OTLP_ENDPOINT to also export these spans and metrics over OTLP)")
    return 0
