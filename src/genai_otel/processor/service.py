"""``genai-otel processor``: receive OTLP, apply the rules, forward OTLP -- without losing data.

Accepted requests go to a bounded memory queue and are acknowledged; when the downstream is slow or down
and the memory queue is full, requests spill to a spool directory (write, fsync, rename). A forwarder sends
in order -- memory first, then the spool -- retrying with backoff, and drops a request only once the
downstream accepted it. A graceful stop drains (within a deadline) and writes what is still in memory to
the spool; a restart resumes from the spool. With ``durable=True`` (``--durable``) every request is on disk
before it is acknowledged, so even a crash loses nothing acknowledged (at the cost of an fsync per request).
When the spool is full the service answers RESOURCE_EXHAUSTED, so well-behaved exporters retry rather than
drop. Malformed requests are refused with INVALID_ARGUMENT; spans no backend can store (bad trace/span ids)
are dropped from an otherwise good request, answered as an OTLP partial success; the service keeps running.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.trace import SpanContext, TraceFlags

from genai_otel.processor.config_file import ProcessorConfig
from genai_otel.processor.config_file import load as load_config
from genai_otel.processor.evaluation import EvaluationRunner
from genai_otel.processor.http_server import MAX_MESSAGE, metrics_server, otlp_http_server
from genai_otel.processor.model import Rule, SpanRecord, apply_rules_to_batch
from genai_otel.processor.otlp import drop_invalid_spans, enrich_request
from genai_otel.processor.queue import EXPORT_METHOD, Counters, Queue, span_count

_logger = logging.getLogger("genai_otel.processor")


#: The service's own metrics: (name, counter or gauge, unit, description).
SERVICE_METRICS = (
    ("received", "counter", "{span}", "Spans accepted."),
    ("forwarded", "counter", "{span}", "Spans the downstream took."),
    (
        "rejected",
        "counter",
        "{span}",
        "Spans refused: invalid ids, undecodable requests, queue and spool full.",
    ),
    ("retries", "counter", "{retry}", "Exports to the downstream retried."),
    ("spilled", "counter", "{request}", "Requests that went to the disk spool instead of the memory queue."),
    ("spooled", "gauge", "{request}", "Requests waiting in the disk spool."),
    ("queued", "gauge", "{request}", "Requests waiting in the memory queue."),
)


@dataclass(frozen=True)
class Ingested:
    """What became of one request: ``ok`` (possibly a partial success), ``invalid`` or ``full``."""

    status: str
    message: str = ""
    rejected_spans: int = 0

    def response(self) -> Any:
        """The OTLP answer for an accepted request; a partial success names what was dropped."""
        if not self.rejected_spans:
            return trace_service_pb2.ExportTraceServiceResponse()
        return trace_service_pb2.ExportTraceServiceResponse(
            partial_success=trace_service_pb2.ExportTracePartialSuccess(
                rejected_spans=self.rejected_spans, error_message=self.message
            )
        )


class ProcessorService:
    def __init__(
        self,
        listen: str,
        forward: str,
        spool_dir: str | Path,
        rules: list[Rule] | None = None,
        max_spool_bytes: int = 1 << 30,
        workers: int = 4,
        http_listen: str | None = None,
        meter_provider: Any = None,
        config: ProcessorConfig | None = None,
        max_memory_bytes: int = 64 << 20,
        durable: bool = False,
        metrics_listen: str | None = None,
    ) -> None:
        self.config = config or ProcessorConfig()
        self.rules = rules if rules is not None else self.config.rules
        self.evaluation = self._evaluation(forward) if self.config.evaluators else None
        self.queue = Queue(Path(spool_dir), max_spool_bytes, max_memory_bytes, durable)
        self.spool = self.queue.spool
        self.counters = Counters()
        self.forward = forward
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers),
            # SO_REUSEPORT: worker processes share the listening port, the kernel spreads connections.
            options=[("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.so_reuseport", 1)],
        )
        # Raw bytes in: the service decodes requests itself, so malformed protobuf gets INVALID_ARGUMENT
        # (grpc's own deserializer would answer INTERNAL).
        handler = grpc.unary_unary_rpc_method_handler(
            self.accept, response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString
        )
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}
                ),
            )
        )
        self.port = self.server.add_insecure_port(listen)
        self.http = otlp_http_server(self, http_listen) if http_listen else None
        self.metrics_http = metrics_server(self, metrics_listen) if metrics_listen else None
        self._register_metrics(meter_provider)
        self._stop = threading.Event()
        self._forwarder = threading.Thread(
            target=self._forward_loop, name="genai-otel-forwarder", daemon=True
        )

    def _evaluation(self, forward: str) -> EvaluationRunner:
        """Evaluators run off the request path; their results go downstream as OTLP log events."""
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        self._logger_provider = LoggerProvider()
        exporter = OTLPLogExporter(endpoint=forward, insecure=True)
        self._logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        return EvaluationRunner(self.config.evaluators, logger_provider=self._logger_provider)

    def _evaluate(self, records: list[SpanRecord]) -> None:
        for record in records:
            span_context = SpanContext(
                int.from_bytes(record.trace_id, "big"),
                int.from_bytes(record.span_id, "big"),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            self.evaluation.submit(record.attributes, span_context)  # type: ignore[union-attr]

    def _register_metrics(self, meter_provider: Any) -> None:
        """The service's own metrics (:data:`SERVICE_METRICS`) as OpenTelemetry observable instruments."""
        from opentelemetry.metrics import Observation, get_meter

        meter = get_meter("genai_otel.processor", meter_provider=meter_provider)

        def observer(name: str) -> Callable[[Any], list[Observation]]:
            return lambda options: [Observation(self.metric_value(name))]

        for name, kind, unit, brief in SERVICE_METRICS:
            create = meter.create_observable_counter if kind == "counter" else meter.create_observable_gauge
            create(f"genai_otel.processor.{name}", [observer(name)], unit=unit, description=brief)

    def metric_value(self, name: str) -> int:
        if name == "spooled":
            return len(self.spool)
        if name == "queued":
            return self.queue.in_memory
        return getattr(self.counters, name)

    def prometheus_text(self) -> str:
        """The service's own metrics in the Prometheus text format (``--metrics-listen``)."""
        lines = []
        for name, kind, _unit, brief in SERVICE_METRICS:
            metric = f"genai_otel_processor_{name}" + ("_total" if kind == "counter" else "")
            lines += [
                f"# HELP {metric} {brief}",
                f"# TYPE {metric} {kind}",
                f"{metric} {self.metric_value(name)}",
            ]
        return "\n".join(lines) + "\n"

    # -- receiving -------------------------------------------------------------------------------

    def ingest(self, raw: bytes) -> Ingested:
        """Decode, check, enrich and spool one request."""
        to_evaluate: list[SpanRecord] = []

        def enrich(records: list[SpanRecord]) -> None:
            apply_rules_to_batch(records, self.rules)
            if self.evaluation is not None:
                to_evaluate.extend(r for r in records if self.config.should_evaluate(r.attributes))

        try:
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(raw)
            rejected = drop_invalid_spans(request)
            spans = enrich_request(request, enrich)
            data = request.SerializeToString()
        except Exception as error:  # a request we cannot process: refuse it clearly, keep serving
            self.counters.add(rejected=1)
            return Ingested(
                "invalid", f"cannot decode the OTLP request: {type(error).__name__}: {error}"[:500]
            )
        where = self.queue.put(data, spans) if spans else "memory"
        if where is None:
            self.counters.add(rejected=spans + rejected)
            return Ingested("full", "queue and spool full: retry later")
        if where == "spool" and not self.queue.durable:
            self.counters.add(spilled=1)
        self.counters.add(received=spans, rejected=rejected)
        if to_evaluate:  # only what was accepted; never delays the answer
            self._evaluate(to_evaluate)
        if rejected:
            message = (
                f"{rejected} span(s) with an invalid trace or span id (not 16/8 bytes, or all zero) dropped"
            )
            return Ingested("ok", message, rejected)
        return Ingested("ok")

    def accept(self, raw: bytes, context: Any) -> Any:
        outcome = self.ingest(raw)
        if outcome.status == "invalid":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, outcome.message)
        if outcome.status == "full":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, outcome.message)
        return outcome.response()

    # -- forwarding ------------------------------------------------------------------------------

    def _forward_loop(self) -> None:
        channel = grpc.insecure_channel(self.forward, options=[("grpc.max_send_message_length", MAX_MESSAGE)])
        # The queued bytes are already a serialized request: sent as they are, not parsed and re-encoded.
        export = channel.unary_unary(
            EXPORT_METHOD, response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString
        )
        backoff = 0.1
        while True:
            item = self.queue.next(timeout=0.2)
            if item is None:
                if self._stop.is_set():
                    break
                continue
            data, spans, done = item
            try:
                export(data, timeout=10)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:  # the downstream will never take it
                    _logger.warning("downstream refused a request: %s", error.details())
                    done()
                    continue
                self.counters.add(retries=1)
                if self._stop.is_set() and time.monotonic() > self._drain_deadline:
                    break  # stopping and the downstream is still down: the spool keeps it for next start
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            self.counters.add(forwarded=spans if spans is not None else span_count(data))
            done()
        channel.close()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def http_port(self) -> int | None:
        return self.http.server_address[1] if self.http else None

    @property
    def metrics_port(self) -> int | None:
        return self.metrics_http.server_address[1] if self.metrics_http else None

    def start(self) -> ProcessorService:
        self.server.start()
        for server, name in ((self.http, "genai-otel-http"), (self.metrics_http, "genai-otel-metrics")):
            if server:
                threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
        self._forwarder.start()
        return self

    def stop(self, drain_seconds: float = 10.0) -> None:
        """Stop receiving, forward what is queued (up to ``drain_seconds``), spool what is left."""
        self.server.stop(grace=2).wait()
        if self.http:
            self.http.shutdown()
            self.http.server_close()
        self._drain_deadline = time.monotonic() + drain_seconds
        self._stop.set()
        self._forwarder.join(drain_seconds + 5)
        self.counters.add(spilled=self.queue.spill())  # not forwarded in time: kept for the next start
        if self.metrics_http:  # last: a scrape during the drain still answers
            self.metrics_http.shutdown()
            self.metrics_http.server_close()
        if self.evaluation is not None:
            self.evaluation.drain(drain_seconds)
            self.evaluation.shutdown()
            self._logger_provider.shutdown()

    def __enter__(self) -> ProcessorService:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(
    listen: str,
    forward: str,
    spool_dir: str,
    http_listen: str | None = None,
    workers: int = 1,
    config_file: str | None = None,
    durable: bool = False,
    metrics_listen: str | None = None,
) -> int:
    """Run until SIGINT/SIGTERM, then drain. ``workers`` > 1 runs that many processes sharing the ports
    (SO_REUSEPORT), each with its own spool directory (``spool_dir/worker-N``) and, with
    ``metrics_listen`` HOST:PORT, its own metrics port (PORT + N: a shared one would answer for one worker
    at random)."""
    import signal

    config = load_config(config_file)  # a bad file fails here, before anything listens
    if workers > 1:
        return _supervise(
            listen, forward, spool_dir, http_listen, workers, config_file, durable, metrics_listen
        )
    service = ProcessorService(
        listen,
        forward,
        spool_dir,
        http_listen=http_listen,
        config=config,
        durable=durable,
        metrics_listen=metrics_listen,
    ).start()
    http = f", OTLP/HTTP on {http_listen}" if http_listen else ""
    http += f", metrics on {metrics_listen}/metrics" if metrics_listen else ""
    _say(f"genai-otel processor: OTLP/gRPC on {listen}{http} -> {forward} (spool {spool_dir})")
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    service.stop()
    counts = service.counters
    _say(
        f"received {counts.received}, forwarded {counts.forwarded}, rejected {counts.rejected}, "
        f"spilled {counts.spilled}, still spooled {len(service.spool)}"
    )
    return 0


def _say(line: str) -> None:
    """One write per line: worker processes share the supervisor's stdout, and print() writes the text
    and its newline separately, so unbuffered workers' lines would interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _supervise(
    listen: str,
    forward: str,
    spool_dir: str,
    http_listen: str | None,
    workers: int,
    config_file: str | None,
    durable: bool,
    metrics_listen: str | None,
) -> int:
    import signal
    import subprocess

    command = [sys.executable, "-m", "genai_otel.cli", "processor", "--listen", listen, "--forward", forward]
    if http_listen:
        command += ["--http-listen", http_listen]
    if config_file:
        command += ["--config", config_file]
    if durable:
        command.append("--durable")
    children = []
    for i in range(workers):
        own = ["--spool", str(Path(spool_dir) / f"worker-{i}")]
        if metrics_listen:
            host, _, port = metrics_listen.rpartition(":")
            own += ["--metrics-listen", f"{host}:{int(port) + i}"]
        children.append(subprocess.Popen([*command, *own]))
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    while not stopped.wait(0.5):
        if any(child.poll() is not None for child in children):
            break  # a worker died: stop the rest, let the supervisor (systemd, k8s) restart us
    for child in children:
        if child.poll() is None:
            child.terminate()
    return max(child.wait() for child in children)
