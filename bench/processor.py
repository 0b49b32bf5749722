"""Processor throughput: spans/s through the genai-otel processor service (1 and 2 worker processes)
next to the Go OpenTelemetry Collector running the generated pure-collector config (OTTL renames +
cost), in one run. Each sends the same OpenLLMetry-dialect spans over OTLP/gRPC in batches and waits
until the downstream receiver has them all.

    python bench/processor.py [--spans 20000] [--batch 500]     # needs .ci/backends/build.sh (the collector)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _drive(endpoint: str, receiver: OtlpReceiver, total: int, batch: int) -> float:
    import grpc

    requests = [export_request(ATTRIBUTES, batch, "openai.chat", n) for n in range(0, total, batch)]
    with grpc.insecure_channel(endpoint) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        start = time.perf_counter()
        for request in requests:
            stub.Export(request, timeout=30)
        while len(receiver.spans()) < total:
            time.sleep(0.01)
        return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    rows = []
    collector = (
        Path(os.environ.get("GENAI_OTEL_CACHE", Path.home() / ".cache" / "genai-otel"))
        / "bin"
        / "otelcol-genai"
    )
    for label, workers in (
        ("genai-otel processor, 1 worker", 1),
        ("genai-otel processor, 2 workers", 2),
        ("Go collector, pure-collector.yaml (OTTL)", 0),
    ):
        with OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as spool:
            port = free_port()
            forward = receiver.endpoint.removeprefix("http://")
            if workers:
                command = [
                    sys.executable,
                    "-m",
                    "genai_otel.cli",
                    "processor",
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--forward",
                    forward,
                    "--spool",
                    spool,
                    "--workers",
                    str(workers),
                ]
                env = dict(os.environ)
            else:
                command = [str(collector), "--config", str(REPO / "collector-config" / "pure-collector.yaml")]
                env = {**os.environ, "OTLP_LISTEN": f"127.0.0.1:{port}", "OTLP_FORWARD": forward}
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_port(port, 30, process)
                rate = _drive(f"127.0.0.1:{port}", receiver, args.spans, args.batch)
            finally:
                process.terminate()
                process.wait(30)
            rows.append((label, rate))
    print(f"\n{args.spans} spans in batches of {args.batch} (OTLP/gRPC in, OTLP/gRPC out), one client\n")
    print(f"| {'pipeline':<42} | {'spans/s':>9} |")
    print(f"|{'-' * 44}|{'-' * 11}|")
    for label, rate in rows:
        print(f"| {label:<42} | {rate:>9.0f} |")


if __name__ == "__main__":
    main()
