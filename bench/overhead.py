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
    "records_floor": "genai-otel's records by hand (floor 2)",
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


MESSAGES = [{"role": "user", "content": "Say hello"}]


def _calls(client: Any) -> dict[str, Any]:
    def chat() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)

    def stream() -> None:
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            pass

    return {"chat": chat, "stream": stream}


def _genai_otel_records(client: Any) -> dict[str, tuple[Any, list[tuple[Any, ...]]]]:
    """What genai-otel records for one call of each kind: the finished span and every metric point
    (instrument name, kind, unit, bucket bounds, value, attributes), read from in-memory providers."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import genai_otel

    records = {}
    for kind, call in _calls(client).items():
        spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        genai_otel.instrument(
            only=["openai"], tracer_provider=tracer_provider, meter_provider=MeterProvider([reader])
        )
        call()
        genai_otel.uninstrument()
        points = []
        for resource_metrics in reader.get_metrics_data().resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        bounds = getattr(point, "explicit_bounds", None)
                        value = point.sum if bounds is not None else point.value
                        instrument = "histogram" if bounds is not None else "counter"
                        points.append((metric.name, instrument, metric.unit, bounds, value, point.attributes))
        [span] = spans.get_finished_spans()
        records[kind] = (span, points)
    return records


def _records_by_hand(client: Any, tracer: Any) -> dict[str, Any]:
    """The second floor: exactly what genai-otel records for the call -- one span with the same name,
    kind and attributes, the same metric points with the same attribute sets -- done by hand, with no
    library logic (no wrapper, no record, no mapping). Histogram points go through the SDK's histograms;
    counter points are added to running totals that an asynchronous counter reports, as genai-otel
    records them (a synchronous SDK counter would cost ~100k instructions a point: not the floor)."""
    from opentelemetry import metrics

    meter = metrics.get_meter("records_floor")
    histograms: dict[str, Any] = {}
    totals: dict[str, dict[frozenset, list[Any]]] = {}

    def observe(name: str) -> Any:
        def callback(_options: Any) -> Any:
            return [metrics.Observation(total, attributes) for attributes, total in totals[name].values()]

        return callback

    def recorder(name: str, kind: str, unit: str, bounds: Any, attributes: dict) -> Any:
        if kind == "histogram":
            if name not in histograms:
                histograms[name] = meter.create_histogram(
                    name, unit=unit, explicit_bucket_boundaries_advisory=list(bounds)
                )
            return histograms[name].record
        if name not in totals:
            totals[name] = {}
            meter.create_observable_counter(name, callbacks=[observe(name)], unit=unit)
        slot = totals[name].setdefault(frozenset(attributes.items()), [attributes, 0])

        def add(value: int, _attributes: dict) -> None:
            slot[1] += value

        return add

    calls = _calls(client)
    by_hand = {}
    for kind, (span, points) in _genai_otel_records(client).items():
        plan = [
            (recorder(name, k, unit, bounds, dict(attributes)), value, dict(attributes))
            for name, k, unit, bounds, value, attributes in points
        ]
        by_hand[kind] = _replay(tracer, calls[kind], span.name, span.kind, dict(span.attributes), plan)
    return by_hand


def _replay(tracer: Any, call: Any, name: str, kind: Any, attributes: dict, plan: list) -> Any:
    def run() -> None:
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes):
            call()
        for record, value, point_attributes in plan:
            record(value, point_attributes)

    return run


def _variant_calls(variant: str, with_metrics: bool) -> dict[str, Any]:
    """The calls to measure for ``variant``, set up in this process."""
    client, tracer = _setup(variant, with_metrics)
    if variant == "records_floor":
        return _records_by_hand(client, tracer)
    calls_by_name = _calls(client)
    if variant == "bare_span":
        return _in_one_span(tracer, "chat gpt-4o-mini", calls_by_name)
    return calls_by_name


def _in_one_span(tracer: Any, name: str, calls_by_name: dict[str, Any]) -> dict[str, Any]:
    """Each call wrapped in one hand-made span: the first floor."""

    def spanned(call: Any) -> Any:
        def run() -> None:
            with tracer.start_as_current_span(name):
                call()

        return run

    return {key: spanned(call) for key, call in calls_by_name.items()}


def _measure(variant: str, calls: int, rounds: int, with_metrics: bool) -> dict[str, float]:
    return timed(_variant_calls(variant, with_metrics), calls, rounds)


def _count(variant: str, kind: str, calls: int, with_metrics: bool) -> None:
    """Under callgrind (bench/instructions.py): warm up, then ``calls`` counted calls of ``kind``."""
    from instructions import run_counted

    call = _variant_calls(variant, with_metrics)[kind]
    for _ in range(20):
        call()
    run_counted(call, calls)


def timed(calls_by_name: dict[str, Any], calls: int, rounds: int) -> dict[str, float]:
    """Median CPU microseconds per call of each callable over ``rounds`` rounds, after a warm-up (CPU
    time of this process: another process's load on the shared cores does not count, its cache misses do)."""
    results = {}
    for name, call in calls_by_name.items():
        for _ in range(calls // 5):  # warm-up
            call()
        samples = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(calls):
                call()
            samples.append((time.process_time() - start) / calls * 1e6)
        results[name] = statistics.median(samples)
    return results


def measure_calls(
    variant: str, tracer: Any, calls_by_name: dict[str, Any], calls: int, rounds: int
) -> dict[str, float]:
    """The per-library benchmarks' measurement: each call timed (inside one hand-made span for the
    ``bare_span`` floor), then how many spans one call of each kind produces (``"<name> spans"``)."""
    if variant == "bare_span":
        calls_by_name = _in_one_span(tracer, "call", calls_by_name)
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
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per call under valgrind instead of timing (--calls counted calls, "
        "default 30; deterministic, minutes per table)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="CPU times and instruction counts (--calls/--rounds for the times; 30 counted calls) in one run",
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--metrics", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant and args.count:
        _count(args.variant, args.count, args.calls, args.metrics)
        return
    if args.variant:
        print(json.dumps(_measure(args.variant, args.calls, args.rounds, args.metrics)))
        return
    if args.instructions:
        calls = args.calls if args.calls != parser.get_default("calls") else 30
        for with_metrics in (False, True):
            _instruction_table(calls, with_metrics)
        return
    for with_metrics in (False, True):
        _table(args.calls, args.rounds, with_metrics)
    if args.all:
        for with_metrics in (False, True):
            _instruction_table(30, with_metrics)
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


def _instruction_table(calls: int, with_metrics: bool) -> None:
    from instructions import count_all

    setup = "spans + SDK MeterProvider" if with_metrics else "spans only"
    columns = ("chat", "stream")
    jobs = {
        (variant, kind): [
            sys.executable,
            __file__,
            "--variant",
            variant,
            "--count",
            kind,
            "--calls",
            str(calls),
        ]
        + (["--metrics"] if with_metrics else [])
        for variant in VARIANTS
        for kind in columns
    }
    counts = count_all(jobs, calls)
    rows = {
        v: {k: counts[(v, k)] / 1e3 for k in columns}
        for v in VARIANTS
        if all((v, k) in counts for k in columns)
    }
    print_rows(
        rows, VARIANTS, columns, f"{setup}: thousand instructions per call ({calls} counted calls)", "kI"
    )


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
    title = f"{title}: median of {rounds} rounds x {calls} calls, CPU us per call"
    print_rows(rows, variants, columns, title, "us")


def print_rows(
    rows: dict[str, dict[str, float]],
    variants: dict[str, str],
    columns: tuple[str, ...],
    title: str,
    unit: str,
) -> None:
    """One markdown table: each variant's figure, its overhead over 'none', and the overhead as a multiple
    of the floors' overheads (one hand-made span; genai-otel's own records by hand, where measured)."""
    base = rows["none"]
    floors = [f for f in ("bare_span", "records_floor") if f in rows]
    over_floor = {f: {k: rows[f][k] - base[k] for k in columns} for f in floors}
    print(f"\n## {title}; overhead = minus 'none'\n")
    ratio_heads = "".join(" x span |" if f == "bare_span" else " x records |" for f in floors)
    header = "".join(f" {c + ' ' + unit:>10} | overhead |{ratio_heads}" for c in columns)
    counted = any(f"{columns[0]} spans" in row for row in rows.values())
    print(f"| {'variant':<52} |{header}" + (" spans per call |" if counted else ""))
    ratio_rule = "".join("-------:|" if f == "bare_span" else "----------:|" for f in floors)
    print(
        f"|{'-' * 54}|"
        + ("-----------:|---------:|" + ratio_rule) * len(columns)
        + ("---------------:|" if counted else "")
    )
    for variant, row in rows.items():
        cells = []
        for key in columns:
            over = row[key] - base[key]
            cells.append(f" {row[key]:>10.1f} | {over:>+8.1f} |")
            for f in floors:
                width = 6 if f == "bare_span" else 9
                ratio = (
                    f"{over / over_floor[f][key]:.2f}" if variant != "none" and over_floor[f][key] else "-"
                )
                cells.append(f" {ratio:>{width}} |")
        spans = [f"{row[f'{key} spans']}" for key in columns if f"{key} spans" in row]
        print(f"| {variants[variant]:<52} |" + "".join(cells) + (f" {'/'.join(spans)} |" if spans else ""))


if __name__ == "__main__":
    main()
