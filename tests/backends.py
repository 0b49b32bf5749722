"""The real OpenTelemetry Collector and Jaeger v2 for end-to-end tests.

Binaries are built from Go modules by ``.ci/backends/build.sh`` (cached under
``~/.cache/genai-otel/bin``; the first build takes minutes). Each fixture writes its own config with
free loopback ports, starts the process, and stops it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import CACHE, REPO, free_port, run_server

BIN = CACHE / "bin"


def ensure_built() -> None:
    """Build (or reuse) the collector and Jaeger binaries; fail loudly if that is impossible."""
    done = subprocess.run(
        ["bash", str(REPO / ".ci" / "backends" / "build.sh")], capture_output=True, text=True, timeout=3000
    )
    if done.returncode != 0:
        raise RuntimeError(f".ci/backends/build.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


@dataclass
class Jaeger:
    otlp_endpoint: str
    query_url: str

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.query_url}/api/traces/{trace_id}", timeout=5) as response:
                data = json.load(response)["data"]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
        return data[0] if data else None

    def wait_for_trace(
        self, trace_id: str, *, spans: int | None = None, min_spans: int | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """The trace once it holds the expected number of spans.

        ``spans``: exactly that many -- returned as soon as they are all there, an error as soon as more
        arrive. ``min_spans`` (for callers that cannot count their trace in advance): at least that many
        and unchanged over two polls, which can return before a late batch lands; prefer ``spans``.
        """
        if (spans is None) == (min_spans is None):
            raise TypeError("give exactly one of spans= and min_spans=")
        deadline, last_count, found = time.monotonic() + timeout, -1, None
        while time.monotonic() < deadline:
            found = self.trace(trace_id)
            count = len(found["spans"]) if found else 0
            if spans is not None:
                names = sorted(s["operationName"] for s in found["spans"]) if found else []
                assert count <= spans, (
                    f"trace {trace_id} has {count} spans in Jaeger, expected {spans}: {names}"
                )
                if count == spans:
                    return found  # type: ignore[return-value]
            elif count >= min_spans and count == last_count:  # type: ignore[operator]
                return found  # type: ignore[return-value]
            last_count = count
            time.sleep(0.2)
        expected = spans if spans is not None else f">= {min_spans}"
        raise AssertionError(
            f"trace {trace_id} has {last_count} spans in Jaeger after {timeout} s, expected {expected}"
        )


_TELEMETRY_OFF = """
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
"""


@contextmanager
def jaeger() -> Iterator[Jaeger]:
    otlp, query, query_grpc = free_port(), free_port(), free_port()
    config = f"""
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
{_TELEMETRY_OFF}
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""
    with tempfile.TemporaryDirectory(prefix="genai-otel-jaeger-") as workdir:
        path = Path(workdir) / "jaeger.yaml"
        path.write_text(config)
        with run_server(
            [str(BIN / "jaeger"), "--config", str(path)],
            otlp,
            timeout=60,
            wait_port=query,
            workdir=Path(workdir),
        ):
            yield Jaeger(f"http://127.0.0.1:{otlp}", f"http://127.0.0.1:{query}")


@contextmanager
def collector(forward_to: str) -> Iterator[str]:
    """A Collector receiving OTLP/gRPC and forwarding to ``forward_to``; yields its endpoint."""
    port = free_port()
    config = f"""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
  batch:
    timeout: 100ms
exporters:
  otlp:
    endpoint: {forward_to.removeprefix("http://")}
    tls:
      insecure: true
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp]
{_TELEMETRY_OFF}
"""
    with tempfile.TemporaryDirectory(prefix="genai-otel-otelcol-") as workdir:
        path = Path(workdir) / "otelcol.yaml"
        path.write_text(config)
        with run_server(
            [str(BIN / "otelcol-genai"), "--config", str(path)], port, timeout=60, workdir=Path(workdir)
        ):
            yield f"http://127.0.0.1:{port}"
