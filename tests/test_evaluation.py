"""Evaluation hooks: heuristics and an LLM judge (through the model server), results as
gen_ai.evaluation.result events tied to the evaluated span, off the application's hot path."""

from __future__ import annotations

import json

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, Settings
from genai_otel.processor.evaluation import (
    EvaluatingSpanProcessor,
    JsonOutputEvaluator,
    LLMJudge,
    RefusalEvaluator,
)


def _messages(text: str) -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}]}])


def test_heuristics():
    assert (
        RefusalEvaluator().evaluate({sc.GEN_AI_OUTPUT_MESSAGES: _messages("I can't help with that.")}).score
        == 1.0
    )
    assert RefusalEvaluator().evaluate({sc.GEN_AI_OUTPUT_MESSAGES: _messages("Paris.")}).label == "answered"
    assert RefusalEvaluator().evaluate({}) is None  # no content captured: nothing to judge
    bad = JsonOutputEvaluator().evaluate(
        {sc.GEN_AI_OUTPUT_TYPE: "json", sc.GEN_AI_OUTPUT_MESSAGES: _messages("{oops")}
    )
    assert (bad.score, bad.label) == (0.0, "invalid")
    assert (
        JsonOutputEvaluator().evaluate({sc.GEN_AI_OUTPUT_MESSAGES: _messages("{}")}) is None
    )  # JSON not requested


def test_results_are_events_tied_to_the_evaluated_span(model_server):
    import openai

    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    evaluator = EvaluatingSpanProcessor(
        [RefusalEvaluator(), JsonOutputEvaluator(), LLMJudge(model_server.openai_base_url, "judge-model")],
        logger_provider=logger_provider,
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(evaluator)
    genai_otel.instrument(
        tracer_provider=provider, only=["openai"], settings=Settings(content_capture=ContentCapture.SPAN_ONLY)
    )
    try:
        client = openai.OpenAI(base_url=model_server.openai_base_url, api_key="sk-x", max_retries=0)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
        )
        assert evaluator.force_flush(10_000)
    finally:
        genai_otel.uninstrument()
    [span] = spans.get_finished_spans()  # the judge's own call is not traced
    records = [r.log_record for r in logs.get_finished_logs()]
    results = {r.attributes[sc.GEN_AI_EVALUATION_NAME]: r for r in records}
    assert set(results) == {"refusal", "relevance"}  # json_output: JSON was not requested
    for record in records:
        assert record.event_name == "gen_ai.evaluation.result"
        assert record.span_id == span.context.span_id and record.trace_id == span.context.trace_id
    assert results["refusal"].attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "answered"
    relevance = results["relevance"].attributes
    # The model server's deterministic judge: the answer ("Echo: Capital of France?") holds every word of the
    # question, so the structured verdict it returns is parsed as score 1.0, "relevant".
    assert relevance[sc.GEN_AI_EVALUATION_SCORE_VALUE] == 1.0
    assert relevance[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "relevant"
    assert relevance[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"
    judged = [r for r in model_server.requests if r["body"].get("model") == "judge-model"]
    assert len(judged) == 1 and "Capital of France?" in judged[0]["body"]["messages"][-1]["content"]


def test_a_judge_reply_that_is_no_verdict_gives_no_score(model_server):
    judge = LLMJudge(model_server.openai_base_url, "judge-garbage")
    attributes = {
        sc.GEN_AI_INPUT_MESSAGES: json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Why?"}]}]
        ),
        sc.GEN_AI_OUTPUT_MESSAGES: _messages("Because."),
    }
    result = judge.evaluate(attributes)
    assert result is not None and result.label == "unparsed" and result.score is None
