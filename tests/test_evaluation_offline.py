"""Offline evaluation (``genai-otel evaluate``): traces written by a real instrumented run as OTLP JSON /
JSON lines / protobuf files and read back from a real Jaeger, malformed input, dataset matching, the report,
and result events arriving at a real OTLP receiver tied to the evaluated spans."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture
from genai_otel.evaluation import offline
from genai_otel.evaluation.readers import (
    read_file,
    read_files,
    read_jaeger,
    read_jaeger_trace,
    read_otlp_request,
)
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .backends import ensure_built, jaeger
from .test_evaluation_judge import run_weather_agent

QUESTION = "When was the Eiffel Tower completed?"
CONTEXT = "The Eiffel Tower is in Paris. It was completed in 1889."


def _rag_call(client) -> None:
    """A retrieval (LangChain, recording document ids) and a chat answering from the documents it was given
    in its prompt, under one app span."""
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from opentelemetry import trace

    class Docs(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return [Document(CONTEXT, id="eiffel")]

    with trace.get_tracer("rag-app").start_as_current_span("answer question"):
        [document] = Docs().invoke(QUESTION)
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": f"Answer from this context only: {document.page_content}"},
                {"role": "user", "content": QUESTION},
            ],
        )


@pytest.fixture
def recorded(otel, openai_client):
    """The finished SDK spans of two traces of a real run: a weather agent, and a chat answering from
    context."""
    run_weather_agent(openai_client)
    _rag_call(openai_client)
    spans = otel.spans()
    assert len({s.context.trace_id for s in spans}) == 2
    return spans


pytestmark = pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)


def _hex_ids(document: dict) -> dict:
    """Protobuf's JSON mapping writes ids base64; OTLP/JSON (and the Collector's file exporter) hex."""
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return document


def _write_files(spans, directory: Path) -> dict[str, Path]:
    request = encode_spans(spans)
    by_trace = [encode_spans([s for s in spans if s.context.trace_id == t]) for t in _trace_ids(spans)]
    files = {
        "protobuf": directory / "traces.pb",
        "json_base64": directory / "traces.json",
        "jsonl_hex": directory / "traces.jsonl",
    }
    files["protobuf"].write_bytes(request.SerializeToString())
    files["json_base64"].write_text(json_format.MessageToJson(request))
    files["jsonl_hex"].write_text(
        "\n".join(json.dumps(_hex_ids(json_format.MessageToDict(r))) for r in by_trace) + "\n"
    )
    return files


def _trace_ids(spans) -> list[int]:
    return list(dict.fromkeys(s.context.trace_id for s in spans))


def _summary(result) -> dict:
    return {
        trace.trace_id: sorted(
            (
                s.span_id,
                s.parent_id,
                s.name,
                s.status_error,
                s.start_ns,
                s.end_ns,
                json.dumps(s.attributes, sort_keys=True),
            )
            for s in trace.spans
        )
        for trace in result.traces
    }


def test_json_json_lines_and_protobuf_files_read_back_the_recorded_traces(recorded, tmp_path):
    files = _write_files(recorded, tmp_path)
    results = {kind: read_file(path) for kind, path in files.items()}

    for result in results.values():
        assert result.errors == []
    assert _summary(results["protobuf"]) == _summary(results["json_base64"]) == _summary(results["jsonl_hex"])
    traces = {t.trace_id: t for t in results["jsonl_hex"].traces}
    assert set(traces) == {format(t, "032x") for t in _trace_ids(recorded)}
    sdk_chat = next(s for s in recorded if s.name == "chat gpt-4o-mini")
    chat = traces[format(sdk_chat.context.trace_id, "032x")].get(format(sdk_chat.context.span_id, "016x"))
    assert chat.attributes == dict(sdk_chat.attributes)  # strings, ints, arrays (finish reasons)
    assert (chat.start_ns, chat.end_ns) == (sdk_chat.start_time, sdk_chat.end_time)
    agent_trace = next(t for t in traces.values() if len(t.spans) == 4)
    [agent] = agent_trace.with_operation(sc.OPERATION_INVOKE_AGENT)
    assert [s.name for s in agent_trace.children(agent)] == [
        "chat gpt-4o-mini-tool",
        "execute_tool get_weather",
        "chat gpt-4o-mini-tool",
    ]
    # The same spans read twice (a directory holding the same export in three encodings) are kept once.
    merged = read_files([tmp_path])
    assert sorted(len(t.spans) for t in merged.traces) == [3, 4] and merged.errors == []


def test_malformed_input_is_named_and_everything_else_is_still_read(recorded, tmp_path):
    good = _write_files(recorded, tmp_path)["jsonl_hex"]
    lines = good.read_text().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([lines[0], "{not json", '{"hello": "world"}', lines[1]]) + "\n")
    (tmp_path / "broken.json").write_text(
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}'
    )
    (tmp_path / "noise.pb").write_bytes(b"\x00\xff\x13garbage bytes that are no protobuf")
    (tmp_path / "truncated.json").write_text(lines[0][: len(lines[0]) // 2])

    result = read_files([mixed, tmp_path / "broken.json", tmp_path / "noise.pb", tmp_path / "truncated.json"])
    missing = read_files([tmp_path / "absent.json"])

    assert sorted(len(t.spans) for t in result.traces) == [3, 4]  # both good lines of mixed.jsonl
    errors = "\n".join(result.errors)
    assert len(result.errors) == 5, errors
    assert f"{mixed}:2: invalid JSON" in errors
    assert f"{mixed}:3: no resourceSpans" in errors
    assert f"{tmp_path / 'broken.json'}: not OTLP JSON" in errors
    assert f"{tmp_path / 'noise.pb'}: not an OTLP protobuf" in errors
    assert f"{tmp_path / 'truncated.json'}: invalid JSON" in errors
    assert missing.traces == [] and missing.errors[0].startswith(f"{tmp_path / 'absent.json'}: cannot read")


def test_traces_are_read_from_a_real_jaeger(recorded):
    ensure_built()
    service = recorded[0].resource.attributes["service.name"]
    with jaeger() as backend:
        assert (
            OTLPSpanExporter(endpoint=backend.otlp_endpoint, insecure=True).export(recorded).name == "SUCCESS"
        )
        trace_ids = [format(t, "032x") for t in _trace_ids(recorded)]
        for trace_id, count in zip(trace_ids, (4, 3), strict=True):
            backend.wait_for_trace(trace_id, spans=count)

        searched = read_jaeger(backend.query_url, service, timedelta(hours=1))
        by_id = read_jaeger_trace(backend.query_url, trace_ids[0])
        nothing = read_jaeger(backend.query_url, "no-such-service", timedelta(minutes=5))
    unreachable = read_jaeger("http://127.0.0.1:9", "x", timedelta(minutes=5), timeout=2)

    assert searched.errors == [] and _summary(searched) == _summary(read_otlp_request(encode_spans(recorded)))
    [from_v1] = by_id.traces  # Jaeger's API v1 JSON: tags, references, microseconds
    agent = from_v1.with_operation(sc.OPERATION_INVOKE_AGENT)[0]
    assert agent.name == "invoke_agent weather_agent" and len(from_v1.children(agent)) == 3
    tool = next(s for s in from_v1.spans if s.name == "execute_tool get_weather")
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT] == "Sunny, 21 C in Paris"
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"city":"Paris"}'
    assert tool.start_ns // 1000 == next(s for s in recorded if s.name == tool.name).start_time // 1000
    assert nothing.traces == [] and nothing.errors == []
    assert unreachable.traces == [] and "127.0.0.1:9" in unreachable.errors[0]


def _dataset(tmp_path: Path) -> Path:
    path = tmp_path / "expectations.jsonl"
    rows = [
        {"input": "what is the weather in paris?", "expected_answer": "Rain all day"},
        {"input": "An input no trace has"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_the_evaluate_command_reports_and_sends_result_events_tied_to_the_spans(
    recorded, tmp_path, model_server, capsys
):
    files = _write_files(recorded, tmp_path)
    report_path = tmp_path / "report.json"
    with OtlpReceiver() as receiver:
        status = offline.main(
            [
                str(files["jsonl_hex"]),
                "--dataset",
                str(_dataset(tmp_path)),
                "--judge-url",
                model_server.openai_base_url,
                "--judge-model",
                "judge-offline",
                "--evaluators",
                "task_completion_judge,answer_relevance_judge,faithfulness_judge",
                "--json",
                str(report_path),
                "--otlp-endpoint",
                receiver.endpoint,
            ]
        )
        records = receiver.logs()
    out, err = capsys.readouterr()

    assert status == 0, err
    report = json.loads(report_path.read_text())
    assert (report["traces"], report["spans"]) == (2, 7)
    assert report["dataset"] == {"rows": 2, "matched": 1}
    summary = report["summary"]
    # The agent's answer disagrees with the dataset's expected answer.
    assert summary["task_completion_judge"] == {
        "count": 1,
        "scored": 1,
        "mean_score": 0.0,
        "labels": {"incomplete": 1},
        "errors": 0,
    }
    assert summary["answer_relevance_judge"]["count"] == 2  # the chat calls answering in text
    # Only the chats given context are judged for faithfulness: the RAG call and the one after the tool.
    assert summary["faithfulness_judge"]["count"] == 2
    assert report["judge"]["requests"] == 5 and report["judge"]["skipped"] == {}
    assert "task_completion_judge" in out and "incomplete=1" in out
    assert "evaluating traces [" in err and "2/2" in err

    assert len(records) == len(report["results"]) == 5
    spans_by_id = {s.context.span_id: s for s in recorded}
    for record, row in zip(
        sorted(records, key=lambda r: (r.span_id, _attr(r, sc.GEN_AI_EVALUATION_NAME))),
        sorted(report["results"], key=lambda r: (bytes.fromhex(r["span_id"]), r["evaluator"])),
        strict=True,
    ):
        assert record.event_name == sc.EVENT_GEN_AI_EVALUATION_RESULT
        span = spans_by_id[int.from_bytes(record.span_id, "big")]
        assert int.from_bytes(record.trace_id, "big") == span.context.trace_id
        assert record.span_id.hex() == row["span_id"]
        assert _attr(record, sc.GEN_AI_EVALUATION_NAME) == row["evaluator"]
        assert _attr(record, sc.GEN_AI_EVALUATION_SCORE_LABEL) == row["label"]
        assert _attr(record, sc.GEN_AI_EVALUATION_SCORE_VALUE) == row["score"]
        assert _attr(record, sc.GEN_AI_EVALUATION_EXPLANATION) == row["explanation"]
        assert set(_attrs(record)) <= {
            sc.GEN_AI_EVALUATION_NAME,
            sc.GEN_AI_EVALUATION_SCORE_VALUE,
            sc.GEN_AI_EVALUATION_SCORE_LABEL,
            sc.GEN_AI_EVALUATION_EXPLANATION,
            sc.GEN_AI_RESPONSE_ID,
        }
    task = next(r for r in records if _attr(r, sc.GEN_AI_EVALUATION_NAME) == "task_completion_judge")
    assert spans_by_id[int.from_bytes(task.span_id, "big")].name == "invoke_agent weather_agent"
    rag = next(s for s in recorded if s.name == "chat gpt-4o-mini")
    rag_faithfulness = next(
        r
        for r in records
        if r.span_id == rag.context.span_id.to_bytes(8, "big")
        and _attr(r, sc.GEN_AI_EVALUATION_NAME) == "faithfulness_judge"
    )
    assert _attr(rag_faithfulness, sc.GEN_AI_EVALUATION_SCORE_LABEL) == "unfaithful"  # "Echo: ..."
    assert _attr(rag_faithfulness, sc.GEN_AI_RESPONSE_ID) == "chatcmpl-local123"


def _attrs(record) -> dict:
    from genai_otel.testing.conformance import otlp_value

    return {kv.key: otlp_value(kv.value) for kv in record.attributes}


def _attr(record, key: str):
    return _attrs(record).get(key)


def test_without_a_judge_the_deterministic_evaluators_run_and_the_judges_are_named(
    recorded, tmp_path, capsys
):
    files = _write_files(recorded, tmp_path)
    report_path = tmp_path / "r.json"
    assert offline.main([str(files["protobuf"]), "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "not run (no judge configured): " in out and "task_completion_judge" in out
    summary = json.loads(report_path.read_text())["summary"]
    assert not any(name.endswith("_judge") for name in summary)
    # The agent's tool call matches its declared schema; the RAG answer was judged against its retrieval.
    assert set(summary["tool_call_validity"]["labels"]) == {"valid"}
    assert summary["groundedness"]["count"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--evaluators", "no_such_evaluator"], "unknown evaluators: no_such_evaluator"),
        (["--evaluators", "task_completion_judge"], "needs a judge endpoint"),
        (["--judge-url", "http://127.0.0.1:9/v1"], "--judge-url needs --judge-model"),
        (["--jaeger", "http://127.0.0.1:9"], "--jaeger needs --service"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(tmp_path, capsys, argv, message):
    trace_file = tmp_path / "t.json"
    trace_file.write_text('{"resourceSpans": []}')
    assert offline.main([str(trace_file), *argv]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_input_is_reported_and_sets_the_exit_status(recorded, tmp_path, model_server, capsys):
    files = _write_files(recorded, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    dataset = tmp_path / "d.jsonl"
    dataset.write_text('{"input": "What is the weather in Paris?"}\n["not", "a", "row"]\n')
    status = offline.main(
        [
            str(files["protobuf"]),
            str(bad),
            "--dataset",
            str(dataset),
            "--judge-url",
            model_server.openai_base_url,
            "--judge-model",
            "judge-unreadable",
            "--evaluators",
            "task_completion_judge",
            "--judge-token-budget",
            "1",
            "--workers",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert status == 1
    assert f"skipped: {bad}: invalid JSON" in captured.err
    assert f"skipped: {dataset}:2: expected an object" in captured.err
    assert "completed=1" in captured.out  # the agent run, judged within the budget


def test_the_judge_budget_skips_are_reported(recorded, tmp_path, model_server, capsys):
    files = _write_files(recorded, tmp_path)
    report_path = tmp_path / "r.json"
    started = time.perf_counter()
    status = offline.main(
        [
            str(files["protobuf"]),
            "--judge-url",
            model_server.openai_base_url,
            "--judge-model",
            "judge-budget-offline",
            "--evaluators",
            "answer_relevance_judge",
            "--judge-token-budget",
            "1",
            "--workers",
            "1",
            "--json",
            str(report_path),
        ]
    )
    assert status == 0 and time.perf_counter() - started < 10
    report = json.loads(report_path.read_text())
    assert report["judge"]["requests"] == 1 and report["judge"]["skipped"] == {"token_budget": 1}
    assert "judge: skipped {'token_budget': 1}" in capsys.readouterr().out


def test_every_registered_evaluator_reports_under_its_registered_name(model_server):
    from genai_otel.evaluation.judge import JudgeClient
    from genai_otel.evaluation.registry import EvaluatorConfig, available

    config = EvaluatorConfig(judge=JudgeClient(model_server.openai_base_url, "judge-names"))
    for name, factory in available().items():
        assert factory(config).name == name


def test_a_failing_judge_is_an_error_row_not_the_end_of_the_run(recorded, tmp_path, capsys):
    files = _write_files(recorded, tmp_path)
    report_path = tmp_path / "r.json"
    argv = [str(files["protobuf"]), "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m"]
    argv += [
        "--judge-retries",
        "0",
        "--evaluators",
        "answer_relevance_judge,refusal",
        "--json",
        str(report_path),
    ]
    assert offline.main(argv) == 0
    summary = json.loads(report_path.read_text())["summary"]
    assert summary["answer_relevance_judge"]["errors"] == summary["answer_relevance_judge"]["count"] == 2
    assert summary["refusal"]["errors"] == 0 and summary["refusal"]["count"] >= 2
    rows = json.loads(report_path.read_text())["results"]
    assert {r["error"] for r in rows if r["evaluator"] == "answer_relevance_judge"} == {"JudgeError"}
