"""Cost of one agent hop's propagation and of the agent decorator, next to plain OpenTelemetry.

    python bench/propagation.py --calls 20000 --rounds 5

Rows (median over rounds, microseconds per operation):

* inject + extract, plain OTel: the default W3C trace-context + baggage propagator, 3 baggage entries;
* inject + extract, genai-otel: the same through genai-otel's guarded propagator (allow-list and
  size caps on extract, trusted-host check on inject);
* span: one ``tracer.start_as_current_span`` around an empty function (the floor);
* ``@genai_otel.agent``: an empty function under the agent decorator (span + agent path/hops
  baggage + loop-guard bookkeeping);
* ``@genai_otel.tool``: the same for a tool (counts a step of the enclosing agent).

Spans go to an SDK TracerProvider with no exporter (the export path is the same for all rows).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    provider = TracerProvider()
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("bench")
    plain = propagate.get_global_textmap()

    ctx = otel_context.get_current()
    for key, value in (
        ("gen_ai.conversation.id", "conv-1234"),
        ("genai_otel.agent.path", "supervisor>researcher"),
        ("genai_otel.agent.hops", "2"),
    ):
        ctx = baggage.set_baggage(key, value, ctx)
    span = tracer.start_span("parent")
    token = otel_context.attach(trace.set_span_in_context(span, ctx))

    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "inject + extract, plain OTel propagator",
            _median_us(_hop(plain.inject, plain.extract), args.calls, args.rounds),
        )
    )
    genai_otel.instrument(only=[])  # installs the guarded propagator, patches nothing
    rows.append(
        (
            "inject + extract, genai-otel propagator",
            _median_us(_hop(propagation.inject, propagation.extract), args.calls, args.rounds),
        )
    )
    otel_context.detach(token)
    span.end()

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

    rows.append(("empty function, no span", _median_us(lambda: None, args.calls, args.rounds)))
    rows.append(("one plain OTel span (floor)", _median_us(plain_span, args.calls, args.rounds)))
    rows.append(
        (
            "plain span with the agent span's 5 attributes",
            _median_us(plain_span_with_attributes, args.calls, args.rounds),
        )
    )
    rows.append(("@genai_otel.agent", _median_us(agent_call, args.calls, args.rounds)))
    rows.append(("@genai_otel.tool (no agent)", _median_us(tool_call, args.calls, args.rounds)))
    rows.append(("agent + tool inside it (2 spans)", _median_us(tool_in_agent, args.calls, args.rounds)))
    genai_otel.uninstrument()

    floor = dict(rows)["one plain OTel span (floor)"]
    print(f"median of {args.rounds} rounds x {args.calls} operations, us per operation\n")
    print(f"| {'operation':<46} | {'us':>7} | {'x span':>6} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 8}|")
    for name, value in rows:
        print(f"| {name:<46} | {value:7.2f} | {value / floor:6.2f} |")


if __name__ == "__main__":
    main()
