"""The runnable examples run on a fresh machine with one command and print one trace."""

from __future__ import annotations

import os
import subprocess
import sys

from genai_otel import semconv as sc
from genai_otel.testing.conformance import otlp_value
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .servers import REPO


def test_rag_over_two_vector_stores_prints_one_trace():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "rag" / "vector_stores.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tree = done.stdout
    assert tree.count("\ntrace ") == 1  # everything under the agent: one trace
    for line in (
        "invoke_agent rag assistant",
        "add knowledge",
        "upsert knowledge",
        "query knowledge",
        "query_points knowledge",
        "chat gpt-4o-mini",
    ):
        assert line in tree, line


def _demo(env: dict[str, str]) -> str:
    demo = [sys.executable, "-c", "import sys; from genai_otel.cli import main; sys.exit(main(['demo']))"]
    done = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_demo_prints_the_agent_trace_and_a_rag_trace():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = _demo(env)
    assert out.count("\ntrace ") == 2, out
    for line in (
        "invoke_agent weather assistant",
        "execute_tool get_weather",
        "chat claude-sonnet-cache",
        "rag ingest and ask",
        "retrieval Chroma",
        "query demo-knowledge",
        "RunnableSequence",
    ):
        assert line in out, line
    assert out.count("chat gpt-4o-mini ") == 1  # the RAG answer: one span, LangChain's and OpenAI's merged
    assert "content capture: SPAN_ONLY" in out
    # The RAG answer's evaluation, right under its span (and under no other): lexical and judged.
    lines = out.splitlines()
    answer = next(i for i, line in enumerate(lines) if "chat gpt-4o-mini " in line)
    assert [line.strip() for line in lines[answer + 1 : answer + 4]] == [
        "⚖ groundedness 1.00 grounded",
        "⚖ answer_relevance 1.00 relevant",
        "⚖ answer_relevance_judge 1.00 relevant",
    ], out
    assert out.count("⚖") == 3, out

    # Content off by the user's choice: nothing to evaluate, and the demo says why.
    out = _demo({**env, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"})
    assert "⚖" not in out and "no evaluation results" in out, out

    # With OTLP export, the results are gen_ai.evaluation.result events tied to the evaluated span.
    with OtlpReceiver() as receiver:
        out = _demo({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        spans, records, metrics = [span for _, span in receiver.spans()], receiver.logs(), receiver.metrics()
    assert f"exported to {receiver.endpoint}" in out
    (answer_span,) = [span for span in spans if span.name == "chat gpt-4o-mini"]
    results = [r for r in records if r.event_name == sc.EVENT_GEN_AI_EVALUATION_RESULT]
    verdicts = {}
    for record in results:
        assert (record.trace_id, record.span_id) == (answer_span.trace_id, answer_span.span_id)
        attributes = {kv.key: otlp_value(kv.value) for kv in record.attributes}
        verdicts[attributes[sc.GEN_AI_EVALUATION_NAME]] = (
            attributes[sc.GEN_AI_EVALUATION_SCORE_VALUE],
            attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL],
        )
    assert verdicts == {
        "groundedness": (1.0, "grounded"),
        "answer_relevance": (1.0, "relevant"),
        "answer_relevance_judge": (1.0, "relevant"),
    }
    # ... and their scores are in the evaluation metric the Grafana dashboard's evaluation panels read.
    scored = {}
    for metric in (m for m in metrics if m.name == "genai_otel.evaluation.score"):
        for point in metric.histogram.data_points:
            attributes = {kv.key: otlp_value(kv.value) for kv in point.attributes}
            scored[attributes[sc.GEN_AI_EVALUATION_NAME]] = point.sum
    assert scored == {"groundedness": 1.0, "answer_relevance": 1.0, "answer_relevance_judge": 1.0}
