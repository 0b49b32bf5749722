"""``genai-otel demo``: instrumented calls against the local model server, shown as trace trees: an agent
making client calls, and (with the ``rag`` extra) a LangChain RAG chain over an embedded Chroma store,
whose answer is then evaluated (groundedness and answer relevance, also by an LLM judge: the model server).

Needs no backend and no API key. Content capture is on in spans (the demo's own texts: evaluation needs
them) unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says otherwise. With
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, the same spans and metrics, and the evaluation results
(``gen_ai.evaluation.result`` events, ``genai_otel.evaluation.score``), are also exported over OTLP/gRPC.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv
from genai_otel.config import CAPTURE_MESSAGE_CONTENT, ContentCapture, Settings
from genai_otel.console import render_tree
from genai_otel.evaluation.report import ResultRow
from genai_otel.testing.model_server import ModelServer
from genai_otel.version import __version__

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
#: The local model server answers models named ``...judge...`` with a rubric verdict.
JUDGE_MODEL = "gpt-4o-mini-judge"


@dataclasses.dataclass
class _Providers:
    tracer: TracerProvider
    memory: InMemorySpanExporter
    meter: Any = None  # MeterProvider, with OTLP export only
    logger: Any = None  # LoggerProvider, with OTLP export only


def _providers(resource: Resource) -> _Providers:
    tracer_provider = TracerProvider(resource=resource)
    providers = _Providers(tracer_provider, InMemorySpanExporter())
    tracer_provider.add_span_processor(SimpleSpanProcessor(providers.memory))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        providers.meter = MeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
        )
        metrics.set_meter_provider(providers.meter)
        providers.logger = LoggerProvider(resource=resource)
        providers.logger.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        _logs.set_logger_provider(providers.logger)
    trace.set_tracer_provider(tracer_provider)
    return providers


def _settings() -> Settings:
    """The environment's settings; content in spans unless the environment chooses, since the demo's
    texts are its own and evaluation reads them."""
    settings = Settings.from_env()
    if os.environ.get(CAPTURE_MESSAGE_CONTENT):
        return settings
    return dataclasses.replace(settings, content_capture=ContentCapture.SPAN_ONLY)


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


def _rag_calls(server: ModelServer) -> int | None:
    """A LangChain RAG chain over an embedded Chroma store, as its own trace: its id; None when the
    ``rag`` extra is not installed."""
    try:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    except ImportError:
        return None
    local = {"base_url": server.openai_base_url, "api_key": "demo-key"}
    # check_embedding_ctx_length=False: LangChain would otherwise download a tokenizer.
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", check_embedding_ctx_length=False, **local)
    chain = ChatPromptTemplate.from_messages([("user", "{context}\n\nQuestion: {question}")]) | ChatOpenAI(
        model="gpt-4o-mini", **local
    )
    with trace.get_tracer("genai-otel-demo").start_as_current_span("rag ingest and ask") as root:
        store = Chroma("demo-knowledge", embedding_function=embeddings, client=chromadb.EphemeralClient())
        store.add_texts(["Traces follow requests across services.", "Baggage carries the conversation id."])
        question = "How do traces cross services?"
        docs = store.as_retriever(search_kwargs={"k": 1}).invoke(question)
        chain.invoke({"context": docs[0].page_content, "question": question})
    return root.get_span_context().trace_id


def _evaluate(spans: Sequence[Any], trace_id: int, server: ModelServer) -> list[ResultRow]:
    """The RAG trace judged as ``genai-otel evaluate`` would: the lexical RAG evaluators, and the LLM
    judge on the model server (its calls are not traced)."""
    from genai_otel.evaluation.convert import from_sdk_spans
    from genai_otel.evaluation.judge import AnswerRelevanceJudge, JudgeClient
    from genai_otel.evaluation.offline import evaluate_trace
    from genai_otel.evaluation.rag import AnswerRelevance, Groundedness

    judge = JudgeClient(server.openai_base_url, JUDGE_MODEL, max_retries=0)
    evaluators = [Groundedness(), AnswerRelevance(), AnswerRelevanceJudge(judge)]
    rag_trace = [view for view in from_sdk_spans(spans) if int(view.trace_id, 16) == trace_id]
    return [row for view in rag_trace for row in evaluate_trace(view, evaluators, None)]


def _verdict(row: ResultRow) -> str:
    """One result as a tree note: ``⚖ groundedness 1.00 grounded``."""
    if row.error:
        return f"⚖ {row.evaluator} ERROR {row.error}"
    score = "" if row.score is None else f" {row.score:.2f}"
    return f"⚖ {row.evaluator}{score} {row.label or ''}".rstrip()


def _export_results(providers: _Providers, rows: Sequence[ResultRow], spans: Sequence[Any]) -> None:
    """Each result as a ``gen_ai.evaluation.result`` event in the evaluated span's context, and its score
    in the evaluation metrics (``genai_otel.evaluation.score``: the Grafana dashboard's evaluation panels)."""
    from genai_otel.evaluation.api import EvaluationResult
    from genai_otel.evaluation.events import emit_result, evaluated_span_context
    from genai_otel.processor.evaluation import EvaluationMetrics

    logger = providers.logger.get_logger("genai_otel.evaluation", __version__, schema_url=semconv.SCHEMA_URL)
    scores = EvaluationMetrics(providers.meter)
    attributes = {span.context.span_id: dict(span.attributes or {}) for span in spans}
    for row in rows:
        result = EvaluationResult(row.evaluator, row.score, row.label, row.explanation)
        context = evaluated_span_context(row.trace_id, row.span_id)
        emit_result(logger, result, context, response_id=row.response_id, error=row.error)
        scores.record_score(result, attributes[int(row.span_id, 16)])


def run() -> int:
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "genai-otel-demo")})
    providers = _providers(resource)
    settings = _settings()
    instrumented = genai_otel.instrument(settings=settings)
    print(f"genai-otel {genai_otel.__version__}: instrumented {', '.join(instrumented) or 'nothing'}")
    print(f"content capture: {settings.content_capture.value} (set {CAPTURE_MESSAGE_CONTENT} to choose)")
    results: list[ResultRow] = []
    with ModelServer() as server:
        print(f"local model server on {server.url}\n")
        with genai_otel.agent("weather assistant", conversation_id="demo-conversation"):
            if "openai" in instrumented:
                _openai_calls(server)
            if "anthropic" in instrumented:
                _anthropic_calls(server)
        rag_trace = _rag_calls(server)
        spans = providers.memory.get_finished_spans()
        if rag_trace is not None:
            results = _evaluate(spans, rag_trace, server)
    notes: dict[int, list[str]] = {}
    for row in results:
        notes.setdefault(int(row.span_id, 16), []).append(_verdict(row))
    print(render_tree(spans, notes))
    if rag_trace is None:
        print("\n(pip install 'genai-otel[rag]' to also see a RAG trace: LangChain over embedded Chroma)")
    elif not results:
        print("\n(no evaluation results: the evaluators read content, which is not captured)")
    if providers.logger is not None:
        _export_results(providers, results, spans)
    genai_otel.uninstrument()
    providers.tracer.shutdown()
    if providers.meter is not None:
        providers.meter.shutdown()
        providers.logger.shutdown()
        print(f"\nexported to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']} over OTLP/gRPC")
    else:
        print("\n(set OTEL_EXPORTER_OTLP_ENDPOINT to also export spans, metrics and evaluations over OTLP)")
    return 0
