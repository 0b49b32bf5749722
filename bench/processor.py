"""Processor throughput and latency: spans/s through the genai-otel processor service (1 and 2 worker
processes) next to the Go OpenTelemetry Collector running the generated pure-collector config (OTTL
renames + cost), in one run. Each sends the same OpenLLMetry-dialect spans over OTLP/gRPC in batches and
waits until the downstream receiver has them all; per request it records the time to the client's
acknowledgement and the time until the request's spans reached the downstream (p50/p99). A second run
sends spans carrying 1 MB prompts and reads each pipeline's resident memory as it goes, to show whether
memory stays flat. A third sends small batches (10 spans) at a fixed rate (200 requests/s) to the processor,
default and ``--durable``: spans per CPU-second of the processor (the per-request overhead) and the
client-observed latency each mode adds.

Evaluation (``--only evaluation``, also at the end of a full run): the trace-aware deterministic
evaluators as the service runs them (trace window -> pool -> gen_ai.evaluation.result events), over the
labelled calibration traces (RAG answers with their retrieval, tool calls with their definitions, outputs)
re-issued under fresh trace ids: spans judged per CPU-second of the process, and the memory the trace
window holds per 10k open traces (tracemalloc).

    python bench/processor.py [--spans 20000] [--batch 500] [--big 200]   # needs .ci/backends/build.sh
    python bench/processor.py --only small [--repeat 3]                    # the small-batch rows alone
    python bench/processor.py --only evaluation [--eval-traces 20000]     # the evaluation rows alone
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc  # noqa: E402

from genai_otel.processor.otlp import export_request  # noqa: E402
from genai_otel.testing.net import free_port, wait_for_port  # noqa: E402
from genai_otel.testing.otlp_receiver import OtlpReceiver  # noqa: E402

ATTRIBUTES = {
    "llm.request.type": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.prompt_tokens": 1000,
    "gen_ai.usage.completion_tokens": 200,
    "llm.usage.total_tokens": 1200,
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Write to jane.doe@example.com please " * 8,
}


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _arrival_by_trace(receiver: OtlpReceiver) -> dict[bytes, float]:
    with receiver.lock:
        pairs = list(zip(receiver.trace_requests, receiver.trace_arrivals, strict=True))
    out: dict[bytes, float] = {}
    for request, arrived in pairs:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    out.setdefault(span.trace_id, arrived)
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the pipeline's processes (all their threads) have used so far."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _drive(
    endpoint: str, receiver: OtlpReceiver, requests: list, total: int, pids: list[int], clients: int = 1
) -> dict[str, float]:
    """Send ``requests`` from ``clients`` concurrent clients (each its own connection, each sending one
    request after the other) and wait until the receiver holds ``total`` spans: throughput, spans per
    CPU-second of the pipeline, ack and end-to-end latency percentiles."""
    import threading

    import grpc

    sent: list[tuple[bytes, float]] = []
    acks: list[float] = []

    def client(share: list) -> None:
        # A local subchannel pool: channels to one address otherwise share one connection, and the
        # kernel spreads connections (not requests) over the worker processes.
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(endpoint, options=options) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            for request in share:
                before = time.perf_counter()
                stub.Export(request, timeout=60)
                acks.append(time.perf_counter() - before)
                sent.append((request.resource_spans[0].scope_spans[0].spans[0].trace_id, before))

    threads = [threading.Thread(target=client, args=(requests[i::clients],)) for i in range(clients)]
    start, cpu_before = time.perf_counter(), _cpu_seconds(pids)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while len(receiver.spans()) < total:
        time.sleep(0.005)
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds(pids) - cpu_before
    arrivals = _arrival_by_trace(receiver)
    delivery = [arrivals[trace_id] - at for trace_id, at in sent]
    ack50, ack99 = _percentiles(acks)
    e2e50, e2e99 = _percentiles(delivery)
    sent_spans = sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests)
    return {
        "rate": sent_spans / elapsed,
        "per_cpu": sent_spans / max(cpu, 1e-9),
        "cpu": cpu / elapsed,
        "ack50": ack50,
        "ack99": ack99,
        "e2e50": e2e50,
        "e2e99": e2e99,
    }


def _paced(
    endpoint: str, receiver: OtlpReceiver, requests: list, rate: float, pids: list[int], clients: int = 4
) -> dict[str, Any]:
    """Send ``requests`` at ``rate`` requests/s in total (each of ``clients`` connections keeps its own
    fixed schedule, so one slow answer does not lower the offered load) and wait until the receiver holds
    every span: the client-observed latency of each request (``acks``), the spans timed, the pipeline's
    CPU seconds and the wall time."""
    import threading

    import grpc

    acks: list[float] = []
    total = len(receiver.spans()) + sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests)

    def client(index: int, share: list) -> None:
        options = [("grpc.use_local_subchannel_pool", 1)]
        interval = clients / rate
        with grpc.insecure_channel(endpoint, options=options) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            stub.Export(share[0], timeout=60)  # connected before the clock starts
            due = start + index / rate
            for request in share[1:]:
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                before = time.perf_counter()
                stub.Export(request, timeout=60)
                acks.append(time.perf_counter() - before)
                due += interval

    start = time.perf_counter() + 0.5
    threads = [threading.Thread(target=client, args=(i, requests[i::clients])) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu_before = _cpu_seconds(pids)
    for thread in threads:
        thread.join()
    while len(receiver.spans()) < total:
        time.sleep(0.005)
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds(pids) - cpu_before
    timed = sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests[clients:])
    return {"acks": acks, "spans": timed, "cpu": cpu, "elapsed": elapsed}


def _fsync_ms(samples: int = 100) -> tuple[float, float]:
    """The spool disk's own cost of durability just now: p50/p99 of writing and fsyncing a new 5 KB file
    in the directory the spools use (the floor of what --durable can add to a request)."""
    times = []
    with tempfile.TemporaryDirectory() as directory:
        for n in range(samples):
            before = time.perf_counter()
            with open(Path(directory) / f"{n}.pb", "wb") as handle:
                handle.write(b"x" * 5000)
                handle.flush()
                os.fsync(handle.fileno())
            times.append(time.perf_counter() - before)
    return _percentiles(times)


def _small(args: argparse.Namespace) -> None:
    """Small batches at a fixed rate into three processors, all running, driven in turns of ``--slices``
    slices (one at a time, so each has the machine to itself, and close in time, so the noise of a shared
    machine falls on all alike); the samples of all slices pooled. The processors: all rules, default and
    --durable (its added latency: --durable's ack minus the default's), and without rules (what a request
    costs before any rule: the transport, decoding and re-encoding). ``--repeat`` runs, each with fresh
    processors."""
    requests = [
        export_request(ATTRIBUTES, args.small_batch, "openai.chat", n)
        for n in range(0, args.small_requests * args.small_batch, args.small_batch)
    ]
    print(
        f"\n{args.small_requests} requests of {args.small_batch} spans at {args.rate:.0f} requests/s into "
        f"each processor, in {args.slices} alternating slices (processor: 1 worker; 8 client connections; "
        "OTLP/gRPC in and out); the disk's own write+fsync latency measured just before\n"
    )
    print(
        f"| {'mode':<23} | run | requests/s | spans/CPU-s | ack p50 ms | ack p99 ms "
        "| added p50 ms | added p99 ms | disk fsync p50/p99 ms |"
    )
    print(
        f"|{'-' * 25}|----:|-----------:|------------:|-----------:|-----------:|{'-' * 13}:|{'-' * 13}:"
        f"|{'-' * 22}:|"
    )
    size = len(requests) // args.slices
    # (label, worker processes, rules config -- None: the defaults --, durable)
    modes = (
        ("default (memory queue)", 1, None, False),
        ("--durable", 1, None, True),
        ("default, no rules", 1, "none", False),
    )
    for run in range(1, args.repeat + 1):
        fsync50, fsync99 = _fsync_ms()
        pooled = {mode[0]: {"acks": [], "spans": 0, "cpu": 0.0, "elapsed": 0.0} for mode in modes}
        with contextlib.ExitStack() as stack:
            pipelines = {
                label: stack.enter_context(_pipeline(workers, rules, durable))
                for label, workers, rules, durable in modes
            }
            for n in range(args.slices):
                for label, (endpoint, receiver, pids) in pipelines.items():
                    part = requests[n * size : (n + 1) * size]
                    r = _paced(endpoint, receiver, part, args.rate, pids, clients=8)
                    total = pooled[label]
                    total["acks"] += r["acks"]
                    for key in ("spans", "cpu", "elapsed"):
                        total[key] += r[key]
        plain50, plain99 = _percentiles(pooled[modes[0][0]]["acks"])
        for label, _workers, _rules, durable in modes:
            r = pooled[label]
            ack50, ack99 = _percentiles(r["acks"])
            added = (
                f"{ack50 - plain50:>12.2f} | {ack99 - plain99:>12.2f}" if durable else f"{'':>12} | {'':>12}"
            )
            print(
                f"| {label:<23} | {run:>3} | {len(r['acks']) / r['elapsed']:>10.0f} "
                f"| {r['spans'] / max(r['cpu'], 1e-9):>11.0f} | {ack50:>10.2f} | {ack99:>10.2f} | {added} "
                f"| {fsync50:>9.2f} / {fsync99:>9.2f} |",
                flush=True,
            )


def _rss_mb(pids: list[int]) -> float:
    """Resident memory of the pipeline's processes (the supervisor's workers included), in MB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def _pids(process: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    extra = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [process.pid, *extra]


# (label, worker processes -- 0 is the Go collector --, rules: None for the defaults, concurrent clients)
PIPELINES = (
    ("genai-otel processor, all rules, 1 worker", 1, None, 1),
    ("genai-otel processor, all rules, 2 workers, 8 clients", 2, None, 8),
    ("genai-otel processor, normalise + cost, 1 worker", 1, "normalize-cost", 1),
    ("genai-otel processor, normalise + cost, 2 workers, 8 clients", 2, "normalize-cost", 8),
    ("Go collector, pure-collector.yaml (OTTL)", 0, None, 1),
    ("Go collector, pure-collector.yaml (OTTL), 8 clients", 0, None, 8),
)
# The same work as the generated OTTL config: renames into the latest conventions, then cost.
SAME_WORK_CONFIG = "rules:\n  - normalize\n  - cost\n"
RULE_CONFIGS = {"normalize-cost": SAME_WORK_CONFIG, "none": "rules: []\n"}


def _start(
    workers: int, port: int, forward: str, spool: str, rules: str | None, durable: bool = False
) -> subprocess.Popen:
    collector = (
        Path(os.environ.get("GENAI_OTEL_CACHE", Path.home() / ".cache" / "genai-otel"))
        / "bin"
        / "otelcol-genai"
    )
    if workers:
        command = [sys.executable, "-m", "genai_otel.cli", "processor", "--listen", f"127.0.0.1:{port}"]
        command += ["--forward", forward, "--spool", spool, "--workers", str(workers)]
        command += ["--durable"] if durable else []
        if rules:
            config = Path(spool) / "rules.yaml"
            config.write_text(RULE_CONFIGS[rules])
            command += ["--config", str(config)]
        env = dict(os.environ)
    else:
        command = [str(collector), "--config", str(REPO / "collector-config" / "pure-collector.yaml")]
        command += ["--set=service.telemetry.metrics.level=none"]
        env = {**os.environ, "OTLP_LISTEN": f"127.0.0.1:{port}", "OTLP_FORWARD": forward}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 30, process)
    return process


@contextlib.contextmanager
def _pipeline(
    workers: int, rules: str | None, durable: bool = False
) -> Iterator[tuple[str, OtlpReceiver, list[int]]]:
    """A pipeline (the processor, or the Go collector with ``workers`` 0) forwarding to a fresh receiver:
    its endpoint, the receiver and its process ids."""
    with OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as spool:
        port = free_port()
        process = _start(workers, port, receiver.endpoint.removeprefix("http://"), spool, rules, durable)
        try:
            yield f"127.0.0.1:{port}", receiver, _pids(process)
        finally:
            process.terminate()
            process.wait(30)


def _run(
    workers: int, rules: str | None, requests: list, total: int, watch_memory: bool = False, clients: int = 1
) -> dict[str, float]:
    with _pipeline(workers, rules) as (endpoint, receiver, pids):
        if not watch_memory:
            return _drive(endpoint, receiver, requests, total, pids, clients)
        idle = _rss_mb(pids)
        half = len(requests) // 2
        _drive(endpoint, receiver, requests[:half], half, pids)
        rss_half = _rss_mb(pids)
        more = _drive(endpoint, receiver, requests[half:], len(requests), pids)
        return {**more, "idle": idle, "rss_half": rss_half, "rss_end": _rss_mb(pids)}


def _fresh_traces(count: int) -> list[tuple[str, list[Any]]]:
    """``count`` traces copied from the calibration cases under new trace ids, every attribute value a new
    object (json round trip), as the service decodes each span afresh."""
    import json

    from genai_otel.evaluation.api import SpanView
    from genai_otel.evaluation.calibration import cases

    templates = [case.trace.spans for case in cases()]
    traces = []
    for n in range(count):
        spans = templates[n % len(templates)]
        copies = [
            SpanView(
                s.name, s.span_id, s.parent_id, json.loads(json.dumps(s.attributes)), s.start_ns, s.end_ns
            )
            for s in spans
        ]
        traces.append((f"{n + 1:032x}", copies))
    return traces


def _evaluation(args: argparse.Namespace) -> None:
    """Deterministic trace evaluators through the evaluation runner; open-trace memory of the window."""
    import tracemalloc

    from opentelemetry.sdk._logs import LoggerProvider

    from genai_otel.evaluation.deterministic import deterministic_evaluators
    from genai_otel.processor.evaluation import EvaluationRunner, TraceWindow, TraceWindowSettings

    print(
        f"\nEvaluation: {args.eval_traces} traces of the labelled calibration set, every deterministic "
        "evaluator (events to a LoggerProvider without exporter)\n"
    )
    print("| measure | value |")
    print("|---------|------:|")
    traces = _fresh_traces(args.eval_traces)
    settings = TraceWindowSettings(idle_seconds=3600, max_age_seconds=3600, max_traces=args.eval_traces + 1)
    runner = EvaluationRunner(
        [],
        LoggerProvider(),
        workers=1,
        max_pending=args.eval_traces + 1,
        trace_evaluators=deterministic_evaluators(),
        window=settings,
    )
    judged = sum(1 for _, spans in traces for span in spans if runner._applicable(span))
    spans = sum(len(spans) for _, spans in traces)
    cpu = time.process_time()
    started = time.perf_counter()
    for trace_id, views in traces:
        runner.add_spans(trace_id, views)
    runner.flush_traces()
    runner.drain(600)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    runner.shutdown()
    print(f"| spans judged (of {spans} spans) | {judged} |")
    print(f"| spans judged per CPU-second | {judged / cpu:.0f} |")
    print(f"| evaluations skipped | {dict(runner.metrics.skipped) or 0} |")
    print(f"| wall seconds (1 evaluation thread) | {wall:.2f} |")
    ten_k = _fresh_traces(10_000)
    per_trace = sum(len(spans) for _, spans in ten_k) / len(ten_k)
    window = TraceWindow(TraceWindowSettings(idle_seconds=3600, max_traces=20_000))
    del ten_k
    tracemalloc.start()
    for trace_id, views in _fresh_traces(10_000):
        window.add(trace_id, views)
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"| memory per 10k open traces ({per_trace:.1f} spans each, content captured) | {held / 1e6:.1f} MB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--big", type=int, default=200, help="requests of one span with a 1 MB prompt")
    parser.add_argument("--small-requests", type=int, default=2000, help="small-batch requests per run")
    parser.add_argument("--small-batch", type=int, default=10, help="spans per small-batch request")
    parser.add_argument("--rate", type=float, default=200.0, help="small-batch requests per second")
    parser.add_argument("--repeat", type=int, default=3, help="small-batch runs")
    parser.add_argument("--slices", type=int, default=5, help="turns of default and --durable per run")
    parser.add_argument("--eval-traces", type=int, default=20000, help="traces judged by the evaluation rows")
    parser.add_argument("--only", choices=("small", "evaluation"), help="run only those rows")
    args = parser.parse_args()
    if args.only == "small":
        _small(args)
        return
    if args.only == "evaluation":
        _evaluation(args)
        return
    requests = [
        export_request(ATTRIBUTES, args.batch, "openai.chat", n) for n in range(0, args.spans, args.batch)
    ]
    print(f"\n{args.spans} spans in batches of {args.batch} (OTLP/gRPC in and out)\n")
    print(
        f"| {'pipeline':<60} | {'spans/s':>9} | cores used | spans/CPU-s | ack p50 ms | ack p99 ms "
        "| delivered p50 ms | delivered p99 ms |"
    )
    print(
        f"|{'-' * 62}|{'-' * 10}:|-----------:|------------:|-----------:|-----------:"
        "|-----------------:|-----------------:|"
    )
    for label, workers, rules, clients in PIPELINES:
        r = _run(workers, rules, requests, args.spans, clients=clients)
        print(
            f"| {label:<60} | {r['rate']:>9.0f} | {r['cpu']:>10.2f} | {r['per_cpu']:>11.0f} "
            f"| {r['ack50']:>10.2f} | {r['ack99']:>10.2f} | {r['e2e50']:>16.2f} | {r['e2e99']:>16.2f} |",
            flush=True,
        )
    big = {**ATTRIBUTES, "gen_ai.prompt.0.content": "x" * (1 << 20)}
    big_requests = [export_request(big, 1, "openai.chat", n) for n in range(args.big)]
    print(f"\n{args.big} requests of one span with a 1 MB prompt: resident memory (MB) of the pipeline\n")
    print(f"| {'pipeline':<60} | idle | after {args.big // 2:>4} | after {args.big:>4} | spans/s |")
    print(f"|{'-' * 62}|-----:|-----------:|-----------:|--------:|")
    for label, workers, rules, clients in PIPELINES:
        if clients > 1:
            continue  # memory is watched with one client
        r = _run(workers, rules, big_requests, args.big, watch_memory=True)
        print(
            f"| {label:<60} | {r['idle']:>4.0f} | {r['rss_half']:>10.0f} | {r['rss_end']:>10.0f} "
            f"| {r['rate']:>7.0f} |",
            flush=True,
        )
    _small(args)
    _evaluation(args)


if __name__ == "__main__":
    main()
