"""``genai-otel evaluate``: judge exported traces offline -- yesterday's traffic or a regression set.

    genai-otel evaluate traces/ --dataset expectations.jsonl --judge-url http://localhost:8000/v1 \\
        --judge-model gpt-4o-mini --json report.json --otlp-endpoint http://localhost:4317
    genai-otel evaluate --jaeger http://jaeger:16686 --service my-app --since 1h \\
        --evaluators task_completion_judge

Reads traces (OTLP JSON / JSON lines / protobuf files, or a Jaeger query API), matches dataset rows
(JSONL: ``input`` plus ``expected_answer``, ``expected_documents``, ``expected_tools``, ``expected_agents``)
to traces by input text, runs the chosen evaluators (``genai_otel.evaluation.registry``) on every span they
apply to, prints a table per evaluator (with a progress bar on stderr), writes the JSON report, and with
``--otlp-endpoint`` sends each result as a ``gen_ai.evaluation.result`` event tied to the evaluated span.

Exit status: 0 when every input was read, 1 when some input (trace or dataset) could not be, 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from pathlib import Path
from typing import Any

from genai_otel import semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceEvaluator, TraceView
from genai_otel.evaluation.events import emit_result, evaluated_span_context
from genai_otel.evaluation.judge import JudgeClient
from genai_otel.evaluation.readers import ReadResult, read_files, read_jaeger
from genai_otel.evaluation.registry import EvaluatorConfig, JudgeRequired, available
from genai_otel.evaluation.report import Progress, Report, ResultRow
from genai_otel.version import __version__


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration like 30m, 1h, 2d: {text!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-otel evaluate", description="Evaluate exported GenAI traces offline."
    )
    parser.add_argument("traces", nargs="*", help="OTLP JSON / JSON lines / protobuf files or directories")
    source = parser.add_argument_group("Jaeger")
    source.add_argument("--jaeger", metavar="URL", help="Jaeger query base URL (e.g. http://localhost:16686)")
    source.add_argument("--service", help="service whose traces to read from Jaeger")
    source.add_argument("--since", type=_duration, default=timedelta(hours=1), help="e.g. 30m, 1h (default)")
    source.add_argument("--limit", type=int, default=100, help="at most this many traces from Jaeger")
    parser.add_argument("--dataset", type=Path, help="JSONL expectations matched to traces by input text")
    parser.add_argument(
        "--evaluators", help="comma-separated names (default: all that need nothing unconfigured)"
    )
    parser.add_argument("--list-evaluators", action="store_true", help="print the available names and exit")
    judge = parser.add_argument_group("LLM judge (any OpenAI-compatible endpoint)")
    judge.add_argument("--judge-url", help="base URL, e.g. http://localhost:8000/v1")
    judge.add_argument("--judge-model")
    judge.add_argument(
        "--judge-api-key-env", metavar="VAR", help="environment variable holding the judge's API key"
    )
    judge.add_argument("--judge-rpm", type=int, help="at most this many judge requests per minute")
    judge.add_argument("--judge-token-budget", type=int, help="stop judging after this many tokens")
    judge.add_argument("--judge-retries", type=int, default=3)
    judge.add_argument(
        "--judge-no-structured-output", action="store_true", help="for endpoints rejecting json_schema"
    )
    parser.add_argument("--workers", type=int, default=4, help="traces evaluated concurrently")
    parser.add_argument("--json", type=Path, dest="json_path", metavar="REPORT", help="write the JSON report")
    parser.add_argument(
        "--otlp-endpoint", metavar="URL", help="send results as gen_ai.evaluation.result events (OTLP/gRPC)"
    )
    return parser


# -- dataset -------------------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def read_dataset(path: Path) -> tuple[list[Expectation], list[str]]:
    """Expectations from a JSONL file, and one error per row that is not one."""
    rows, errors = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"{path}: cannot read ({error})"]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("input"), str):
                raise ValueError('expected an object with a string "input"')
            rows.append(
                Expectation(
                    input=row["input"],
                    expected_answer=row.get("expected_answer"),
                    expected_documents=tuple(row.get("expected_documents") or ()),
                    expected_tools=tuple(row.get("expected_tools") or ()),
                    expected_agents=tuple(row.get("expected_agents") or ()),
                )
            )
        except (ValueError, TypeError) as error:
            errors.append(f"{path}:{number}: {error}")
    return rows, errors


def _trace_inputs(trace: TraceView) -> list[str]:
    """The user texts of a trace's spans (earliest first), normalised."""
    texts = []
    for span in sorted(trace.spans, key=lambda s: s.start_ns):
        text = evidence.question(span) or span.attributes.get(semconv.GEN_AI_RETRIEVAL_QUERY_TEXT)
        if isinstance(text, str) and text.strip():
            texts.append(_normal(text))
    return texts


def match_expectation(trace: TraceView, expectations: Sequence[Expectation]) -> Expectation | None:
    """The row whose input is a span's user text, else the longest one contained in one (a question
    inside a prompt template)."""
    inputs = _trace_inputs(trace)
    exact = [e for e in expectations if _normal(e.input) in inputs]
    if exact:
        return exact[0]
    contained = [
        e for e in expectations if e.input.strip() and any(_normal(e.input) in text for text in inputs)
    ]
    return max(contained, key=lambda e: len(e.input), default=None)


# -- running -------------------------------------------------------------------------------------------------


def choose_evaluators(names: str | None, config: EvaluatorConfig) -> tuple[list[TraceEvaluator], list[str]]:
    """The evaluators to run and notes on those left out. Raises ValueError for an unknown or unusable
    name that was asked for."""
    factories = available()
    if names:
        wanted = [name.strip() for name in names.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in factories]
        if unknown:
            raise ValueError(
                f"unknown evaluators: {', '.join(unknown)} (known: {', '.join(sorted(factories))})"
            )
        try:
            return [factories[name](config) for name in wanted], []
        except JudgeRequired as error:
            raise ValueError(f"{error}") from None
    evaluators, notes = [], []
    for name, factory in sorted(factories.items()):
        try:
            evaluators.append(factory(config))
        except JudgeRequired:
            notes.append(name)
    return evaluators, ([f"not run (no judge configured): {', '.join(notes)}"] if notes else [])


def evaluate_trace(
    trace: TraceView, evaluators: Sequence[TraceEvaluator], expectation: Expectation | None
) -> list[ResultRow]:
    """Every evaluator on every span it applies to; an evaluator's failure is a row with ``error``."""
    rows = []
    for span in sorted(trace.spans, key=lambda s: s.start_ns):
        for evaluator in evaluators:
            try:
                if not evaluator.applies_to(span):
                    continue
                result = evaluator.evaluate(span, trace, expectation)
            except Exception as error:  # one bad span or endpoint must not end the whole run
                rows.append(_row(trace, span, evaluator.name, error=type(error).__name__, detail=str(error)))
                continue
            if result is not None:
                rows.append(
                    _row(
                        trace,
                        span,
                        result.name,
                        score=result.score,
                        label=result.label,
                        detail=result.explanation,
                    )
                )
    return rows


def _row(
    trace: TraceView, span: SpanView, name: str, *, detail: str | None = None, **fields: Any
) -> ResultRow:
    return ResultRow(
        trace_id=trace.trace_id,
        span_id=span.span_id,
        span_name=span.name,
        evaluator=name,
        explanation=detail,
        response_id=span.attributes.get(semconv.GEN_AI_RESPONSE_ID),
        **fields,
    )


def run(
    traces: Sequence[TraceView],
    evaluators: Sequence[TraceEvaluator],
    expectations: Sequence[Expectation] = (),
    *,
    workers: int = 4,
    progress: Progress | None = None,
) -> tuple[list[ResultRow], int]:
    """(results in trace order, dataset rows matched to a trace)."""
    matched = {trace.trace_id: match_expectation(trace, expectations) for trace in traces}
    results: dict[str, list[ResultRow]] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="genai-otel-evaluate") as pool:
        futures = {
            pool.submit(evaluate_trace, t, evaluators, matched[t.trace_id]): t.trace_id for t in traces
        }
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if progress is not None:
                progress.advance()
    rows = [row for trace in traces for row in results[trace.trace_id]]
    used = {id(e) for e in matched.values() if e is not None}
    return rows, len(used)


# -- result events -----------------------------------------------------------------------------------------


def send_events(rows: Sequence[ResultRow], endpoint: str) -> None:
    """Each result as a ``gen_ai.evaluation.result`` log record in the evaluated span's context, over
    OTLP/gRPC (``opentelemetry-exporter-otlp-proto-grpc``)."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "genai-otel-evaluate"}))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=endpoint.startswith("http://")))
    )
    logger = provider.get_logger("genai_otel.evaluation", __version__, schema_url=semconv.SCHEMA_URL)
    try:
        for row in rows:
            result = EvaluationResult(row.evaluator, row.score, row.label, row.explanation)
            context = evaluated_span_context(row.trace_id, row.span_id)
            emit_result(logger, result, context, response_id=row.response_id, error=row.error)
    finally:
        provider.shutdown()  # flushes the batch


# -- main --------------------------------------------------------------------------------------------------


def _judge_client(args: argparse.Namespace) -> JudgeClient | None:
    if not args.judge_url:
        return None
    if not args.judge_model:
        raise ValueError("--judge-url needs --judge-model")
    return JudgeClient(
        args.judge_url,
        args.judge_model,
        api_key=os.environ.get(args.judge_api_key_env) if args.judge_api_key_env else None,
        max_retries=args.judge_retries,
        requests_per_minute=args.judge_rpm,
        token_budget=args.judge_token_budget,
        structured_output=not args.judge_no_structured_output,
    )


def _read_traces(args: argparse.Namespace) -> ReadResult:
    result = read_files(args.traces) if args.traces else ReadResult()
    if args.jaeger:
        result = result.merge(read_jaeger(args.jaeger, args.service, args.since, limit=args.limit))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_evaluators:
        print("\n".join(sorted(available())))
        return 0
    if not args.traces and not args.jaeger:
        parser.print_usage(sys.stderr)
        print("genai-otel evaluate: give trace files or --jaeger URL --service NAME", file=sys.stderr)
        return 2
    if args.jaeger and not args.service:
        print("genai-otel evaluate: --jaeger needs --service", file=sys.stderr)
        return 2
    try:
        judge = _judge_client(args)
        evaluators, notes = choose_evaluators(args.evaluators, EvaluatorConfig(judge=judge))
    except ValueError as error:
        print(f"genai-otel evaluate: {error}", file=sys.stderr)
        return 2

    read = _read_traces(args)
    expectations, dataset_errors = read_dataset(args.dataset) if args.dataset else ([], [])
    for message in [*read.errors, *dataset_errors]:
        print(f"skipped: {message}", file=sys.stderr)
    progress = Progress(len(read.traces), "evaluating traces")
    rows, matched = run(read.traces, evaluators, expectations, workers=args.workers, progress=progress)
    progress.finish()

    report = Report(
        traces=len(read.traces),
        spans=sum(len(trace.spans) for trace in read.traces),
        rows=rows,
        read_errors=read.errors + dataset_errors,
        dataset={"rows": len(expectations), "matched": matched} if args.dataset else {},
        judge=judge.stats() if judge else {},
    )
    print(report.table())
    for note in notes:
        print(note)
    if judge and judge.skipped:
        print(
            f"judge: skipped {dict(judge.skipped)}; {judge.tokens_used} tokens in {judge.requests} requests"
        )
    if args.json_path:
        args.json_path.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    if args.otlp_endpoint and rows:
        try:
            send_events(rows, args.otlp_endpoint)
        except ImportError:
            print(
                "--otlp-endpoint needs: pip install opentelemetry-exporter-otlp-proto-grpc", file=sys.stderr
            )
            return 2
    return 1 if report.read_errors else 0
