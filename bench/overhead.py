"""Per-call overhead of OpenAI chat instrumentation, side by side with the anchor libraries.

    python bench/overhead.py [--calls 2000] [--rounds 7]

Each variant runs in its own process (instrumentors patch the same SDK functions): the real
``openai`` SDK sends real requests through an in-process ``httpx2.MockTransport`` (no network), spans
go to a no-op exporter via a SimpleSpanProcessor, and an SDK MeterProvider is installed (metrics are
recorded, never exported). We report the median per-call time over several rounds and the overhead
over the uninstrumented call; the "bare span" variant wraps each call in one hand-made span: the floor.

Needs the anchors installed (``pip install -e '.[bench]'``) -- in a separate virtualenv from the test
suite, since ``opentelemetry-instrument`` would load them too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

STDLIB = "logging, typing, dataclasses, re, enum, contextlib, inspect, json"
VARIANTS = {
    "none": "no instrumentation",
    "bare_span": "one hand-made span (floor)",
    "genai_otel": "genai-otel",
    "openllmetry": "OpenLLMetry opentelemetry-instrumentation-openai",
    "openinference": "OpenInference openinference-instrumentation-openai",
    "openai_v2": "official opentelemetry-instrumentation-openai-v2",
}

CHAT_BODY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "Hello there!"},
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
).encode()


def _stream_body() -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]} for i in range(20)]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}}
    )
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


#: Spans the dropping exporter has seen (to check a variant really traces what is measured).
EXPORTED = [0]


def install_sdk(with_metrics: bool) -> Any:
    """The SDK as an app has it: spans to a dropping exporter, optionally an SDK MeterProvider."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            EXPORTED[0] += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    if with_metrics:
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return trace.get_tracer("bench")


def _setup(variant: str, with_metrics: bool) -> Any:
    import httpx2
    import openai

    tracer = install_sdk(with_metrics)
    stream_body = _stream_body()

    def respond(request: Any) -> Any:
        if b'"stream":true' in request.content.replace(b" ", b""):
            return httpx2.Response(200, content=stream_body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, content=CHAT_BODY, headers={"content-type": "application/json"})

    if variant == "genai_otel":
        import genai_otel

        genai_otel.instrument(only=["openai"])
    elif variant == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif variant == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif variant == "openai_v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    client = openai.OpenAI(
        api_key="bench",
        base_url="http://bench.local/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(respond)),
    )
    return client, tracer


def _measure(variant: str, calls: int, rounds: int, with_metrics: bool) -> dict[str, float]:
    client, tracer = _setup(variant, with_metrics)
    messages = [{"role": "user", "content": "Say hello"}]

    def chat() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.2)

    def stream() -> None:
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        ):
            pass

    def spanned(call: Any) -> Any:
        def run() -> None:
            with tracer.start_as_current_span("chat gpt-4o-mini"):
                call()

        return run

    calls_by_name = {"chat": chat, "stream": stream}
    if variant == "bare_span":
        calls_by_name = {name: spanned(call) for name, call in calls_by_name.items()}
    return timed(calls_by_name, calls, rounds)


def timed(calls_by_name: dict[str, Any], calls: int, rounds: int) -> dict[str, float]:
    """Median microseconds per call of each callable over ``rounds`` rounds, after a warm-up."""
    results = {}
    for name, call in calls_by_name.items():
        for _ in range(calls // 5):  # warm-up
            call()
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                call()
            samples.append((time.perf_counter() - start) / calls * 1e6)
        results[name] = statistics.median(samples)
    return results


def measure_calls(
    variant: str, tracer: Any, calls_by_name: dict[str, Any], calls: int, rounds: int
) -> dict[str, float]:
    """The per-library benchmarks' measurement: each call timed (inside one hand-made span for the
    ``bare_span`` floor), then how many spans one call of each kind produces (``"<name> spans"``)."""
    if variant == "bare_span":

        def spanned(call: Any) -> Any:
            def run() -> None:
                with tracer.start_as_current_span("call"):
                    call()

            return run

        calls_by_name = {name: spanned(call) for name, call in calls_by_name.items()}
    results = timed(calls_by_name, calls, rounds)
    for name, call in calls_by_name.items():
        before = EXPORTED[0]
        call()
        results[f"{name} spans"] = EXPORTED[0] - before
    return results


def _import_time(preload: str = "") -> tuple[float, int]:
    """ms for ``import genai_otel; genai_otel.instrument()`` in a cold interpreter, and how many libraries
    it set up. Patching is lazy (post-import hooks), so every installed library is set up yet none of them
    is imported: the bench checks that too.

    ``preload`` names stdlib modules imported before timing (an app that logs has them already).
    """
    code = (
        "import sys, time\n"
        f"import {preload or 'sys'}\n"
        "t = time.perf_counter()\n"
        "import genai_otel; done = genai_otel.instrument()\n"
        "elapsed = (time.perf_counter() - t) * 1000\n"
        "imported = [n for n in done if n in sys.modules]\n"
        "print(elapsed, len(done), ','.join(imported))\n"
    )
    times, count = [], 0
    for _ in range(9):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        value, count_text, *imported = out.split()
        assert not imported, f"instrument() imported {imported}"
        times.append(float(value))
        count = int(count_text)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--metrics", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(_measure(args.variant, args.calls, args.rounds, args.metrics)))
        return
    for with_metrics in (False, True):
        _table(args.calls, args.rounds, with_metrics)
    ms, count = _import_time()
    print(
        f"\nimport genai_otel + instrument() in a cold interpreter: {ms:.1f} ms "
        f"({count} installed libraries set up, none of them imported)"
    )


def _table(calls: int, rounds: int, with_metrics: bool) -> None:
    setup = (
        "spans + SDK MeterProvider (metrics recorded)" if with_metrics else "spans only (no MeterProvider)"
    )
    extra = ["--metrics"] if with_metrics else []
    print_table(__file__, VARIANTS, ("chat", "stream"), calls, rounds, setup, extra)


def variant_cli(
    doc: str, script: str, measure: Any, groups: dict[str, dict[str, str]], columns: tuple[str, ...]
) -> None:
    """The command line the per-library benchmarks share: with ``--variant`` (and ``--group``) measure one
    variant in this process and print JSON; without, run every variant of every group in its own process."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.group, args.calls, args.rounds)))
        return
    for group, variants in groups.items():
        title = f"{group}: spans only"
        print_table(script, variants, columns, args.calls, args.rounds, title, ["--group", group])


def print_table(
    script: str,
    variants: dict[str, str],
    columns: tuple[str, ...],
    calls: int,
    rounds: int,
    title: str,
    extra: list[str] | None = None,
) -> None:
    """Run each variant of ``script`` in its own process and print one markdown table."""
    rows = {}
    for variant in variants:
        cmd = [sys.executable, script, "--variant", variant, "--calls", str(calls), "--rounds", str(rounds)]
        done = subprocess.run(cmd + (extra or []), capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{variant}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        rows[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    base = rows["none"]
    floor = {k: rows["bare_span"][k] - base[k] for k in columns}
    print(f"\n## {title}: median of {rounds} rounds x {calls} calls, us per call; overhead = minus 'none'\n")
    header = "".join(f" {c + ' us':>10} | overhead | x floor |" for c in columns)
    counted = any(f"{columns[0]} spans" in row for row in rows.values())
    print(f"| {'variant':<52} |{header}" + (" spans per call |" if counted else ""))
    print(
        f"|{'-' * 54}|"
        + "-----------:|---------:|--------:|" * len(columns)
        + ("---------------:|" if counted else "")
    )
    for variant, row in rows.items():
        cells = []
        for key in columns:
            over = row[key] - base[key]
            ratio = f"{over / floor[key]:.2f}" if variant != "none" else "-"
            cells.append(f" {row[key]:>10.1f} | {over:>+8.1f} | {ratio:>7} |")
        spans = [f"{row[f'{key} spans']}" for key in columns if f"{key} spans" in row]
        print(f"| {variants[variant]:<52} |" + "".join(cells) + (f" {'/'.join(spans)} |" if spans else ""))


if __name__ == "__main__":
    main()
