"""``genai-otel processor``: receive OTLP, apply the rules, forward OTLP -- without losing data.

Accepted requests go to a bounded memory queue and are acknowledged; when the downstream is slow or down
and the memory queue is full, requests spill to a spool directory (write, fsync, rename). A forwarder sends
in order -- memory first, then the spool -- retrying with backoff, and drops a request only once the
downstream accepted it. A graceful stop drains (within a deadline) and writes what is still in memory to
the spool; a restart resumes from the spool. With ``durable=True`` (``--durable``) every request is on disk
before it is acknowledged, so even a crash loses nothing acknowledged, at the cost of an fsync: the requests
that arrive during one fsync share the next (group commit, ``queue.py``).
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
from functools import partial
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from opentelemetry.trace import SpanContext, TraceFlags

from genai_otel import semconv
from genai_otel.evaluation.api import SpanView
from genai_otel.processor.config_file import ProcessorConfig
from genai_otel.processor.config_file import load as load_config
from genai_otel.processor.evaluation import EvaluationRunner, for_window
from genai_otel.processor.http_server import MAX_MESSAGE, metrics_server, otlp_http_server
from genai_otel.processor.limits import Admission, Limits, grpc_interceptor, signal_of_method, to_arguments
from genai_otel.processor.model import Rule, SpanRecord, apply_rules_to_batch, rule_failures
from genai_otel.processor.otlp import drop_invalid_spans, enrich_request
from genai_otel.processor.queue import EXPORT_METHOD, Counters, DeadLetter, Item, Queue  # noqa: F401
from genai_otel.processor.retry import PERMANENT, RETRY, SPLIT, classify, retry_later
from genai_otel.processor.rules import limit_counts
from genai_otel.processor.signals import SIGNALS, drop_invalid_log_records, enrich_logs
from genai_otel.processor.split import halve_request, split_request
from genai_otel.safety import safely

_logger = logging.getLogger("genai_otel.processor")

#: The default largest request sent downstream: the gRPC receive limit of the Collector and Jaeger.
DEFAULT_MAX_SEND_BYTES = 4 << 20


#: The service's own metrics: (name, counter or gauge, unit, description).
SERVICE_METRICS = (
    ("received", "counter", "{span}", "Spans accepted."),
    ("forwarded", "counter", "{span}", "Spans the downstream took."),
    (
        "rejected",
        "counter",
        "{span}",
        "Spans refused: invalid ids, undecodable requests, queue and spool full, spool disk errors, "
        "single spans larger than the send limit.",
    ),
    ("retries", "counter", "{retry}", "Exports to the downstream retried."),
    ("spilled", "counter", "{request}", "Requests that went to the disk spool instead of the memory queue."),
    ("spooled", "gauge", "{request}", "Requests waiting in the disk spool."),
    ("queued", "gauge", "{request}", "Requests waiting in the memory queue."),
    (
        "dead_lettered",
        "counter",
        "{request}",
        "Requests the downstream will never take (a permanent OTLP error, or one item over the send "
        "limit), written to the dead-letter directory.",
    ),
    (
        "dead_letter_dropped",
        "counter",
        "{request}",
        "Requests the dead-letter directory dropped (its byte cap: oldest first) or could not write.",
    ),
    ("spool_errors", "counter", "{error}", "Spool writes that failed (disk full, I/O error)."),
    ("logs_received", "counter", "{log_record}", "Log records accepted."),
    ("logs_forwarded", "counter", "{log_record}", "Log records the downstream took."),
    ("logs_rejected", "counter", "{log_record}", "Log records refused."),
    ("metrics_received", "counter", "{metric}", "Metrics accepted (passed through unchanged)."),
    ("metrics_forwarded", "counter", "{metric}", "Metrics the downstream took."),
    ("metrics_rejected", "counter", "{metric}", "Metrics refused."),
    (
        "rule_failures",
        "counter",
        "{record}",
        "Records a rule failed on and left as they were (each rule applies to a record completely or not "
        "at all).",
    ),
    ("keys_dropped", "counter", "{attribute}", "Attributes dropped for a key over the limit rule's cap."),
    ("values_shortened", "counter", "{attribute}", "Non-content values shortened to the limit rule's cap."),
    ("content_shortened", "counter", "{attribute}", "Content values shortened to the limit rule's cap."),
)


@dataclass(frozen=True)
class Ingested:
    """What became of one request: ``ok`` (possibly a partial success), ``invalid`` or ``full`` (retry
    later: queue and spool full, or the spool disk failing)."""

    status: str
    message: str = ""
    rejected_spans: int = 0
    #: ``traces``, ``logs`` or ``metrics``: the answer's type. ``rejected_spans`` counts its items.
    signal: str = "traces"

    def response(self) -> Any:
        """The OTLP answer for an accepted request; a partial success names what was dropped."""
        return SIGNALS[self.signal].response_for(self.rejected_spans, self.message)


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
        max_send_bytes: int = DEFAULT_MAX_SEND_BYTES,
        dead_letter_dir: str | Path | None = None,
        dead_letter_max_bytes: int = 256 << 20,
        send_timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> None:
        self.config = config or ProcessorConfig()
        self.rules = rules if rules is not None else self.config.rules
        self.evaluation = self._evaluation(forward, meter_provider) if self.config.evaluates else None
        self.queue = Queue(Path(spool_dir), max_spool_bytes, max_memory_bytes, durable)
        self.spool = self.queue.spool
        self.counters = Counters()
        self.dead_letter = DeadLetter(
            Path(dead_letter_dir) if dead_letter_dir else Path(spool_dir) / "dead-letter",
            dead_letter_max_bytes,
            self.counters,
        )
        self.max_send_bytes = max_send_bytes
        self._too_big = f"a single item larger than --max-send-bytes ({max_send_bytes}): cannot be sent"
        self.send_timeout = send_timeout
        self.forward = forward
        # Ingress limits (limits.py): request size and item count checked from the wire before decoding,
        # a memory budget across concurrent requests, bounded concurrent calls and connections.
        self.limits = limits or Limits()
        self.admission = Admission(self.limits)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers),
            interceptors=[grpc_interceptor(self.admission, signal_of_method)],
            # Beyond this many calls in progress grpc answers RESOURCE_EXHAUSTED at once (retryable).
            maximum_concurrent_rpcs=self.limits.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", self.limits.max_request_bytes),
                # SO_REUSEPORT: worker processes share the listening port, the kernel spreads connections.
                ("grpc.so_reuseport", 1),
                # Dead peers are found (ping every minute) and idle connections closed after 10 minutes;
                # clients may ping every 10 s (the exporters' keepalive) without being told to go away.
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.max_connection_idle_ms", 600_000),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        # Raw bytes in: the service decodes requests itself, so malformed protobuf gets INVALID_ARGUMENT
        # (grpc's own deserializer would answer INTERNAL). Traces, logs and metrics.
        self.server.add_generic_rpc_handlers(
            tuple(
                grpc.method_handlers_generic_handler(
                    kind.service,
                    {
                        "Export": grpc.unary_unary_rpc_method_handler(
                            partial(self.accept, signal=kind.name),
                            response_serializer=kind.response.SerializeToString,
                        )
                    },
                )
                for kind in SIGNALS.values()
            )
        )
        self.port = self.server.add_insecure_port(listen)
        self.http = otlp_http_server(self, http_listen) if http_listen else None
        self.metrics_http = metrics_server(self, metrics_listen) if metrics_listen else None
        self._register_metrics(meter_provider)
        self._stop = threading.Event()
        self._drain_deadline = float("inf")
        self._failing = False  # the downstream is failing: logged once per outage, not per retry
        self._spilled_on_stop = False
        self._spool_failing = False
        #: Requests and items acknowledged but neither forwarded nor spooled when :meth:`stop` returned.
        self.unsaved: tuple[int, int] = (0, 0)
        self._forwarder = threading.Thread(
            target=self._forward_loop, name="genai-otel-forwarder", daemon=True
        )

    def _evaluation(self, forward: str, meter_provider: Any) -> EvaluationRunner:
        """Evaluators run off the request path; their results go downstream as OTLP log events, their
        metrics to the service's own MeterProvider."""
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        self._logger_provider = LoggerProvider()
        exporter = OTLPLogExporter(endpoint=forward, insecure=True)
        self._logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        config = self.config
        return EvaluationRunner(
            config.evaluators,
            logger_provider=self._logger_provider,
            workers=config.evaluation_workers,
            max_pending=config.evaluation_max_pending,
            trace_evaluators=config.trace_evaluators,
            window=config.trace_window,
            sampling=config.sampling,
            meter_provider=meter_provider,
        )

    def _evaluate(self, records: list[SpanRecord]) -> None:
        for record in records:
            span_context = SpanContext(
                int.from_bytes(record.trace_id, "big"),
                int.from_bytes(record.span_id, "big"),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            self.evaluation.submit(record.attributes, span_context)  # type: ignore[union-attr]

    def _hold_traces(self, request: Any, records: list[SpanRecord]) -> None:
        """The accepted spans of ``request`` (with ``records``' attributes: after the rules, so redacted)
        into the evaluation's trace window, one call per trace."""
        by_trace: dict[bytes, list[SpanView]] = {}
        protos = (span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans)
        for span, record in zip(protos, records, strict=True):
            view = SpanView(
                name=record.name,
                span_id=span.span_id.hex(),
                parent_id=span.parent_span_id.hex() or None,
                attributes=record.attributes,
                start_ns=span.start_time_unix_nano,
                end_ns=span.end_time_unix_nano,
                status_error=span.status.code == Status.STATUS_CODE_ERROR,
            )
            by_trace.setdefault(span.trace_id, []).append(for_window(view))
        for trace_id, views in by_trace.items():
            self.evaluation.add_spans(trace_id.hex(), views)  # type: ignore[union-attr]

    def _register_metrics(self, meter_provider: Any) -> None:
        """The service's own metrics (:data:`SERVICE_METRICS`) as OpenTelemetry observable instruments."""
        from opentelemetry.metrics import Observation, get_meter

        meter = get_meter(
            "genai_otel.processor", meter_provider=meter_provider, schema_url=semconv.SCHEMA_URL
        )

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
        if name == "rule_failures":  # the rules' own counters: per process, like the rules' caches
            return sum(rule_failures().values())
        if name in ("keys_dropped", "values_shortened", "content_shortened"):
            return limit_counts().get(name, 0)
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

    def ingest(self, raw: bytes, signal: str = "traces") -> Ingested:
        """Decode, check, enrich and queue one request of ``signal`` (``traces``, ``logs`` or ``metrics``):
        spans and log records go through the rules, metrics pass through unchanged."""
        kind = SIGNALS[signal]
        received_name, _forwarded_name, rejected_name = kind.counters
        to_evaluate: list[SpanRecord] = []
        to_hold: list[SpanRecord] = []

        def enrich(records: list[SpanRecord]) -> None:
            apply_rules_to_batch(records, self.rules)
            if self.evaluation is not None:
                to_evaluate.extend(r for r in records if self.config.should_evaluate(r.attributes))
                if self.evaluation.window is not None:
                    to_hold.extend(records)

        try:
            request = kind.parse(raw)
            if signal == "traces":
                rejected = drop_invalid_spans(request)
                items = enrich_request(request, enrich)
                data = request.SerializeToString()
            elif signal == "logs":
                rejected = drop_invalid_log_records(request)
                items = enrich_logs(request, lambda records: apply_rules_to_batch(records, self.rules))
                data = request.SerializeToString()
            else:  # metrics: validated by the decode, forwarded as they came
                rejected, items, data = 0, kind.count(request), raw
        except Exception as error:  # a request we cannot process: refuse it clearly, keep serving
            self.counters.add(**{rejected_name: 1})
            return Ingested(
                "invalid",
                f"cannot decode the OTLP request: {type(error).__name__}: {error}"[:500],
                signal=signal,
            )
        too_big: list[tuple[bytes, int]] = []
        if len(data) <= self.max_send_bytes:  # the common case: one length check
            parts = [(data, items)]
        else:  # split to fit the next hop; a single item over the limit can never be sent
            parts, too_big = split_request(request, kind, self.max_send_bytes)
        accepted = items - sum(count for _data, count in too_big)
        try:
            where = self.queue.put_all(parts, signal) if accepted else "memory"
            self._spool_failing = False
        except OSError as error:  # a full or failing spool disk: the client keeps the data and retries
            self.counters.add(spool_errors=1, **{rejected_name: items + rejected})
            if not self._spool_failing:  # once per episode, not per request
                self._spool_failing = True
                _logger.error("cannot write to the spool %s: %s; retry later", self.spool.directory, error)
            message = f"spool write failed ({error.strerror or error}): retry later"
            return Ingested("full", message, signal=signal)
        if where is None:
            self.counters.add(**{rejected_name: items + rejected})
            return Ingested("full", "queue and spool full: retry later", signal=signal)
        if where == "spool" and not self.queue.durable:
            self.counters.add(spilled=len(parts))
        for data_part, count in too_big:  # after the queue took the rest: a retried request is not kept twice
            self.dead_letter.put(data_part, signal, count, self._too_big)
        rejected += items - accepted
        self.counters.add(**{received_name: accepted, rejected_name: rejected})
        if to_evaluate:  # only what was accepted; never delays the answer
            self._evaluate(to_evaluate)
        if to_hold:
            safely("processor evaluation trace window", self._hold_traces, request, to_hold)
        if rejected:
            reasons = []
            if too_big:
                reasons.append(
                    f"{items - accepted} {kind.items.replace('_', ' ')} larger than the maximum send size "
                    f"({self.max_send_bytes} bytes) kept in the dead-letter directory"
                )
            if rejected > items - accepted:
                reasons.append(
                    f"{rejected - (items - accepted)} {kind.items.replace('_', ' ')} with an invalid trace "
                    "or span id (not 16/8 bytes, or all zero) dropped"
                )
            return Ingested("ok", "; ".join(reasons), rejected, signal)
        return Ingested("ok", signal=signal)

    def accept(self, raw: bytes, context: Any, signal: str = "traces") -> Any:
        outcome = self.ingest(raw, signal)
        if outcome.status == "invalid":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, outcome.message)
        if outcome.status == "full":  # with RetryInfo: without it OTLP exporters treat this as permanent
            context.abort_with_status(retry_later(outcome.message))
        return outcome.response()

    # -- forwarding ------------------------------------------------------------------------------

    def _forward_loop(self) -> None:
        options = [
            ("grpc.max_send_message_length", max(MAX_MESSAGE, self.max_send_bytes)),
            # Reconnect within seconds once the downstream is back (gRPC's own backoff grows to 2 minutes).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 5000),
        ]
        channel = grpc.insecure_channel(self.forward, options=options)
        # The queued bytes are already a serialized request: sent as they are, not parsed and re-encoded.
        exports = {
            name: channel.unary_unary(kind.method, response_deserializer=kind.response.FromString)
            for name, kind in SIGNALS.items()
        }
        self._backoff = 0.1
        while True:
            item = self.queue.next(timeout=0.2)
            if item is None:
                if self._stop.is_set():
                    break
                continue
            if not self._deliver(item, exports[item.signal]):
                break  # stopping, past the drain deadline: stop() spools what is left
        channel.close()

    def _deliver(self, item: Item, export: Callable[..., Any]) -> bool:
        """Send one queued request -- split to fit ``max_send_bytes`` if it is larger (a spool written
        with a larger limit) -- until every part is delivered or dead-lettered. Retryable errors are
        retried with backoff; permanent ones (OTLP specification) dead-letter the part, once, and the
        queue moves on. False when stopping past the drain deadline (what is left of the request stays
        queued, without the parts already delivered)."""
        kind = SIGNALS[item.signal]
        if len(item.data) <= self.max_send_bytes:
            pending = [(item.data, item.count)]
        else:
            pending, too_big = split_request(kind.parse(item.data), kind, self.max_send_bytes)
            for data, count in too_big:
                self.dead_letter.put(data, item.signal, count, self._too_big)
        progressed = False
        while pending:
            data, count = pending[0]
            try:
                export(data, timeout=self.send_timeout)
            except grpc.RpcError as error:
                verdict, delay = classify(error)
                if verdict == RETRY:
                    if self._wait_to_retry(error, delay, item):
                        continue
                    if progressed:
                        left = sum(c if c is not None else kind.count_bytes(d) for d, c in pending)
                        self.queue.replace(item, b"".join(d for d, _c in pending), left)
                    return False
                if verdict == SPLIT:
                    halves = halve_request(data, kind)
                    if len(halves) > 1:  # the next hop's limit is below ours: smaller requests may pass
                        pending[0:1] = halves
                        continue
                assert verdict in (PERMANENT, SPLIT)
                count = count if count is not None else kind.count_bytes(data)
                code = error.code().name if hasattr(error, "code") else "error"
                reason = f"downstream answered {code}: {error.details()}"
                self.dead_letter.put(data, item.signal, count, reason)
                pending.pop(0)
                progressed = True
                continue
            if self._failing:
                self._failing = False
                _logger.warning("downstream %s is taking requests again", self.forward)
            self._backoff = 0.1
            self.counters.add(**{kind.counters[1]: count if count is not None else kind.count_bytes(data)})
            pending.pop(0)
            progressed = True
        self.queue.done(item)
        return True

    def _wait_to_retry(self, error: grpc.RpcError, delay: float | None, item: Item) -> bool:
        """Back off before retrying; False when stopping and the drain deadline has passed. While
        stopping, memory is written to the spool at the first failure, so the drain time is not spent
        holding data only in memory."""
        self.counters.add(retries=1)
        if not self._failing:
            self._failing = True
            code = error.code().name if hasattr(error, "code") else "error"
            _logger.warning(
                "downstream %s failed (%s: %s): retrying with backoff, requests stay queued",
                self.forward, code, error.details() if hasattr(error, "details") else error,
            )  # fmt: skip
        wait = min(delay if delay is not None else self._backoff, 30.0)
        self._backoff = min(self._backoff * 2, 5.0)
        if not self._stop.is_set():
            self._stop.wait(wait)
            return True
        if not self._spilled_on_stop:
            self._spilled_on_stop = True
            written, _left = self.queue.spill(keep=item)
            self.counters.add(spilled=written)
        remaining = self._drain_deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(wait, remaining))
        return True

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
        self._forwarder.join(drain_seconds + self.send_timeout + 5)
        # Not forwarded in time: kept for the next start, in front of the backlog.
        written, left = self.queue.spill()
        self.counters.add(spilled=written)
        if left:  # nothing else can keep them: say so clearly (serve() exits non-zero)
            items = sum(
                i.count if i.count is not None else SIGNALS[i.signal].count_bytes(i.data) for i in left
            )
            self.unsaved = (len(left), items)
            _logger.error(
                "%d acknowledged request(s) (%d items) could be neither forwarded (downstream %s down) "
                "nor spooled (%s): lost",
                len(left), items, self.forward, self.spool.directory,
            )  # fmt: skip
        if self.metrics_http:  # last: a scrape during the drain still answers
            self.metrics_http.shutdown()
            self.metrics_http.server_close()
        if self.evaluation is not None:  # traces still open are judged as they are
            self.evaluation.flush_traces()
            self.evaluation.drain(drain_seconds)
            self.evaluation.shutdown()
            self._logger_provider.shutdown()
        for rule in self.rules:  # rules holding work of their own (offload: queued uploads) finish it
            shutdown = getattr(rule, "shutdown", None)
            if shutdown is not None:
                safely(f"processor rule {rule.name} shutdown", shutdown, drain_seconds)

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
    *,
    max_send_bytes: int = DEFAULT_MAX_SEND_BYTES,
    spool_max_bytes: int = 1 << 30,
    dead_letter_dir: str | None = None,
    dead_letter_max_bytes: int = 256 << 20,
    drain_seconds: float = 10.0,
    limits: Limits | None = None,
) -> int:
    """Run until SIGINT/SIGTERM, then drain. ``workers`` > 1 runs that many processes sharing the ports
    (SO_REUSEPORT), each with its own spool directory (``spool_dir/worker-N``), dead-letter directory
    and, with ``metrics_listen`` HOST:PORT, its own metrics port (PORT + N: a shared one would answer for
    one worker at random). Returns 0, or 3 when acknowledged data could be neither forwarded nor spooled
    on stop (a full spool disk with the downstream down)."""
    import signal

    config = load_config(config_file)  # a bad file fails here, before anything listens
    if workers > 1:
        extra = ["--max-send-bytes", str(max_send_bytes), "--spool-max-bytes", str(spool_max_bytes)]
        extra += ["--dead-letter-max-bytes", str(dead_letter_max_bytes)]
        extra += ["--drain-seconds", str(drain_seconds)]
        extra += to_arguments(limits or Limits())
        return _supervise(
            listen, forward, spool_dir, http_listen, workers, config_file, durable, metrics_listen,
            extra, dead_letter_dir,
        )  # fmt: skip
    service = ProcessorService(
        listen,
        forward,
        spool_dir,
        http_listen=http_listen,
        config=config,
        durable=durable,
        metrics_listen=metrics_listen,
        max_send_bytes=max_send_bytes,
        max_spool_bytes=spool_max_bytes,
        dead_letter_dir=dead_letter_dir,
        dead_letter_max_bytes=dead_letter_max_bytes,
        limits=limits,
    ).start()
    http = f", OTLP/HTTP on {http_listen}" if http_listen else ""
    http += f", metrics on {metrics_listen}/metrics" if metrics_listen else ""
    _say(f"genai-otel processor: OTLP/gRPC on {listen}{http} -> {forward} (spool {spool_dir})")
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    service.stop(drain_seconds)
    counts = service.counters
    _say(
        f"received {counts.received}, forwarded {counts.forwarded}, rejected {counts.rejected}, "
        f"spilled {counts.spilled}, still spooled {len(service.spool)}, "
        f"dead-lettered {counts.dead_lettered} (in {service.dead_letter.directory})"
    )
    requests, items = service.unsaved
    if requests:
        _say(
            f"LOST: {requests} acknowledged request(s), {items} items: the downstream stayed down for the "
            f"drain ({drain_seconds} s) and the spool could not take them"
        )
        return 3
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
    extra: list[str],
    dead_letter_dir: str | None,
) -> int:
    import signal
    import subprocess

    command = [sys.executable, "-m", "genai_otel.cli", "processor", "--listen", listen, "--forward", forward]
    command += extra
    if http_listen:
        command += ["--http-listen", http_listen]
    if config_file:
        command += ["--config", config_file]
    if durable:
        command.append("--durable")
    children = []
    for i in range(workers):
        own = ["--spool", str(Path(spool_dir) / f"worker-{i}")]
        if dead_letter_dir:
            own += ["--dead-letter-dir", str(Path(dead_letter_dir) / f"worker-{i}")]
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
