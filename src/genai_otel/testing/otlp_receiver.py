"""A real OTLP/gRPC receiver (grpcio + opentelemetry-proto) running in-process.

Used by the tests, and by the examples as their embedded default backend: spans from several
services arrive here and print as one tree (:func:`genai_otel.console.render_tree`).
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from types import SimpleNamespace
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        with self.receiver.lock:
            self.receiver.trace_requests.append(request)
            self.receiver.trace_arrivals.append(time.perf_counter())
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        with self.receiver.lock:
            self.receiver.metric_requests.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        with self.receiver.lock:
            self.receiver.log_requests.append(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class OtlpReceiver:
    def __init__(self, port: int = 0) -> None:
        self.lock = threading.Lock()
        self.trace_requests: list[Any] = []
        #: ``time.perf_counter()`` at which each of ``trace_requests`` arrived (for latency benchmarks).
        self.trace_arrivals: list[float] = []
        self.metric_requests: list[Any] = []
        self.log_requests: list[Any] = []
        # Large messages accepted (a collector batches many big spans into one request).
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_receive_message_length", 256 << 20)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(self), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(self), self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(grace=None)

    def spans(self) -> list[tuple[Any, Any]]:
        """``(scope, span)`` pairs received so far."""
        with self.lock:
            return [
                (ss.scope, span)
                for req in self.trace_requests
                for rs in req.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            ]

    def metrics(self) -> list[Any]:
        with self.lock:
            return [
                m
                for req in self.metric_requests
                for rm in req.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
            ]

    def logs(self) -> list[Any]:
        """Log records (events) received so far."""
        with self.lock:
            return [
                record
                for req in self.log_requests
                for rl in req.resource_logs
                for sl in rl.scope_logs
                for record in sl.log_records
            ]

    def tree_spans(self) -> list[Any]:
        """Received spans shaped like SDK spans (name, context, parent, times, attributes, service)
        for :func:`genai_otel.console.render_tree`."""
        from genai_otel.testing.conformance import otlp_value

        with self.lock:
            resource_spans = [rs for req in self.trace_requests for rs in req.resource_spans]
        out = []
        for rs in resource_spans:
            resource = {kv.key: otlp_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    parent = int.from_bytes(span.parent_span_id, "big") if span.parent_span_id else None
                    out.append(
                        SimpleNamespace(
                            name=span.name,
                            context=SimpleNamespace(
                                trace_id=int.from_bytes(span.trace_id, "big"),
                                span_id=int.from_bytes(span.span_id, "big"),
                            ),
                            parent=SimpleNamespace(span_id=parent) if parent else None,
                            start_time=span.start_time_unix_nano,
                            end_time=span.end_time_unix_nano,
                            attributes={kv.key: otlp_value(kv.value) for kv in span.attributes},
                            service=resource.get("service.name"),
                        )
                    )
        return out
