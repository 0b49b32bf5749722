"""Cost of one agent hop's propagation and of the agent decorator, next to plain OpenTelemetry.

    python bench/propagation.py --calls 20000 --rounds 5
    python bench/propagation.py --instructions     # instructions per operation: noise cannot move it
    python bench/propagation.py --instructions --metrics   # with an SDK MeterProvider (metrics on)

Rows (median over rounds, microseconds per operation):

* inject + extract, plain OTel: the default W3C trace-context + baggage propagator, 3 baggage entries;
* inject + extract, genai-otel: the same through genai-otel's guarded propagator (allow-list and
  size caps on extract, trusted-host check on inject);
* span: one ``tracer.start_as_current_span`` around an empty function (the floor);
* ``@genai_otel.agent``: an empty function under the agent decorator (span + agent path/hops
  baggage + loop-guard bookkeeping);
* ``@genai_otel.tool``: the same for a tool (counts a step of the enclosing agent).

Spans go to an SDK TracerProvider with no exporter (the export path is the same for all rows). Without
``--metrics`` no MeterProvider is set, so genai-otel records no metrics; with it an SDK MeterProvider with an
in-memory reader (never collected while measuring) is the global one: an application with metrics on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import instructions  # bench/instructions.py: the script's directory is on sys.path
from opentelemetry import baggage, metrics, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import genai_otel
from genai_otel import propagation


def _median_us(fn: Callable[[], None], calls: int, rounds: int) -> float:
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        per_round.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(per_round)


def _hop(inject: Callable[[dict], None], extract: Callable[[dict], object]) -> Callable[[], None]:
    def hop() -> None:
        carrier: dict[str, str] = {}
        inject(carrier)
        extract(carrier)

    return hop


def _operations(tracer: trace.Tracer) -> dict[str, Callable[[], None]]:
    """Every measured operation by row name (genai-otel instrumented, the parent span current)."""
    plain = propagate.get_global_textmap()
    operations: dict[str, Callable[[], None]] = {
        "inject + extract, plain OTel propagator": _hop(plain.inject, plain.extract),
    }
    genai_otel.instrument(only=[])  # installs the guarded propagator, patches nothing
    operations["inject + extract, genai-otel propagator"] = _hop(propagation.inject, propagation.extract)

    def plain_span() -> None:
        with tracer.start_as_current_span("work"):
            pass

    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "worker",
        "genai_otel.agent.hops": 1,
        "genai_otel.agent.path": "worker",
        "genai_otel.agent.steps": 0,
    }

    def plain_span_with_attributes() -> None:
        with tracer.start_as_current_span("invoke_agent worker", attributes=attributes):
            pass

    @genai_otel.agent("worker")
    def agent_call() -> None:
        pass

    @genai_otel.tool("lookup")
    def tool_call() -> None:
        pass

    def tool_in_agent() -> None:
        with genai_otel.agent("worker"):
            tool_call()

    operations.update(
        {
            "empty function, no span": lambda: None,
            FLOOR: plain_span,
            SAME_ATTRIBUTES: plain_span_with_attributes,
            "@genai_otel.agent": agent_call,
            "@genai_otel.tool (no agent)": tool_call,
            "agent + tool inside it (2 spans)": tool_in_agent,
        }
    )
    return operations


FLOOR = "one plain OTel span (floor)"
SAME_ATTRIBUTES = "plain span with the agent span's 5 attributes"


def _setup(with_metrics: bool) -> trace.Tracer:
    if with_metrics:
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    provider = TracerProvider()
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("bench")
    ctx = otel_context.get_current()
    for key, value in (
        ("gen_ai.conversation.id", "conv-1234"),
        ("genai_otel.agent.path", "supervisor>researcher"),
        ("genai_otel.agent.hops", "2"),
    ):
        ctx = baggage.set_baggage(key, value, ctx)
    span = tracer.start_span("parent")
    otel_context.attach(trace.set_span_in_context(span, ctx))
    return tracer


def _print(rows: dict[str, float], unit: str, header: str) -> None:
    print(header + "\n")
    print(f"| {'operation':<46} | {unit:>9} | {'x span':>6} | {'x same attrs':>12} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 8}|{'-' * 14}|")
    for name, value in rows.items():
        ratio, same = value / rows[FLOOR], value / rows[SAME_ATTRIBUTES]
        print(f"| {name:<46} | {value:9.2f} | {ratio:6.2f} | {same:12.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--instructions", action="store_true", help="instructions per operation (valgrind), not time"
    )
    parser.add_argument("--metrics", action="store_true", help="an SDK MeterProvider is set (metrics on)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one operation, counted (--instructions)
    args = parser.parse_args()
    operations = _operations(_setup(args.metrics))
    meters = "an SDK MeterProvider" if args.metrics else "no MeterProvider"
    if args.variant is not None:
        call = operations[args.variant]
        for _ in range(200):  # warm-up, not counted
            call()
        instructions.run_counted(call, args.calls)
        return
    if args.instructions:
        calls = min(args.calls, 300)
        metrics_flag = ["--metrics"] if args.metrics else []
        jobs = {
            (name, ""): [sys.executable, __file__, "--variant", name, "--calls", str(calls), *metrics_flag]
            for name in operations
        }
        counted = instructions.count_all(jobs, calls)
        rows = {name: counted[(name, "")] / 1000 for name in operations}
        header = f"thousands of instructions per operation ({calls} operations, valgrind, {meters})"
        _print(rows, "kI", header)
        return
    rows = {name: _median_us(call, args.calls, args.rounds) for name, call in operations.items()}
    genai_otel.uninstrument()
    header = f"median of {args.rounds} rounds x {args.calls} operations, us per operation ({meters})"
    _print(rows, "us", header)


if __name__ == "__main__":
    main()
