"""What the service takes in, before it spends anything on a request: decoded size and item count per
request (counted from the protobuf wire, without building messages), a memory budget shared by the
requests being decoded at once, and the nesting depth of attribute values.

A request that can never be accepted (too big, too many items) is refused as *permanent* -- HTTP 413, gRPC
INVALID_ARGUMENT -- which OTLP exporters do not retry; a request that only has to wait for memory held by
other requests is refused as *retryable* -- HTTP 503 with Retry-After, gRPC RESOURCE_EXHAUSTED with a
``google.rpc.RetryInfo`` -- after a short wait (see the OTLP specification, "Failures" and "Throttling").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger("genai_otel.processor")

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """The service's ingress limits (every one has a default that fits a small pod)."""

    #: Largest request once decompressed (bytes); HTTP bodies inflating beyond it are cut off unread.
    max_request_bytes: int = 64 * MiB
    #: Most spans / log records / metric data points in one request (a 6 KB gzip body can hold millions
    #: of empty spans, each costing Python objects).
    max_items: int = 100_000
    #: Working memory (estimated) of the requests being decoded and enriched at once.
    memory_budget_bytes: int = 512 * MiB
    #: How long a request waits for budget held by others before a retryable refusal.
    budget_wait_seconds: float = 2.0
    #: Deepest protobuf message nesting accepted (a kvlist attribute level costs 3: AnyValue,
    #: KeyValueList, KeyValue). The protobuf runtime refuses beyond 100 by default; the service decodes
    #: deeper requests up to this (the Collector's Go decoder has no limit of its own; ours stays within
    #: what the C decoder's stack safely holds: ~550 bytes a level, segfaulting near 14,000 on an 8 MB
    #: thread stack). 3,100 is a kvlist attribute 1,000 levels deep.
    max_nesting: int = 3_100
    #: Concurrent OTLP/HTTP connections; beyond them a connection gets 503 at once (threads bounded).
    max_http_connections: int = 64
    #: Concurrent gRPC calls being served; beyond them gRPC answers RESOURCE_EXHAUSTED at once. (gRPC
    #: holds a call's whole message before any check of ours runs: this bounds that memory too.)
    max_concurrent_rpcs: int = 16
    #: Seconds an idle HTTP connection may wait for its next request, and that headers may take.
    http_idle_seconds: float = 30.0
    http_header_seconds: float = 10.0
    #: The slowest body accepted (bytes/s) after a grace of ``http_header_seconds`` (slowloris).
    http_min_body_rate: int = 256 * 1024


#: The limits the ``processor`` command takes as flags: field -> (flag, help).
CLI_FLAGS: dict[str, tuple[str, str]] = {
    "max_request_bytes": ("--max-request-bytes", "largest request once decompressed (default 64 MiB)"),
    "max_items": ("--max-items", "most spans / log records / metric points per request (default 100,000)"),
    "memory_budget_bytes": (
        "--memory-budget-bytes",
        "memory of the requests decoded at once; beyond it clients are told to retry (default 512 MiB)",
    ),
    "max_http_connections": ("--max-http-connections", "concurrent OTLP/HTTP connections (default 64)"),
    "max_concurrent_rpcs": ("--max-concurrent-rpcs", "concurrent gRPC calls served (default 16)"),
}


def add_arguments(parser: Any) -> None:
    """The :data:`CLI_FLAGS` on an argparse parser (defaults from :class:`Limits`)."""
    for field_name, (flag, brief) in CLI_FLAGS.items():
        parser.add_argument(flag, dest=field_name, type=int, default=getattr(Limits, field_name), help=brief)


def from_arguments(args: Any) -> Limits:
    return Limits(**{name: getattr(args, name) for name in CLI_FLAGS})


def to_arguments(limits: Limits) -> list[str]:
    """The flags that give a worker process the same limits."""
    return [part for name, (flag, _) in CLI_FLAGS.items() for part in (flag, str(getattr(limits, name)))]


class Refused(Exception):
    """A request not taken: ``permanent`` (never retry it) or retryable (retry later)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# -- counting items from the wire ---------------------------------------------------------------------
# The path from the request to its items, as field numbers: ExportTraceServiceRequest.resource_spans (1)
# -> ResourceSpans.scope_spans (2) -> ScopeSpans.spans (2); the same for logs; metrics go one further,
# Metric.{gauge,sum,histogram,exponential_histogram,summary} -> data_points (1).
_METRIC_DATA = frozenset((5, 7, 9, 10, 11))
_PATHS: dict[str, tuple[frozenset[int], ...]] = {
    "traces": (frozenset((1,)), frozenset((2,)), frozenset((2,))),
    "logs": (frozenset((1,)), frozenset((2,)), frozenset((2,))),
    "metrics": (frozenset((1,)), frozenset((2,)), frozenset((2,)), _METRIC_DATA, frozenset((1,))),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _skip(data: bytes, pos: int, wire: int) -> int:
    if wire == 0:
        return _varint(data, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 5:
        return pos + 4
    if wire == 2:
        length, pos = _varint(data, pos)
        return pos + length
    raise ValueError(f"wire type {wire}")


def count_items(raw: bytes, signal: str, stop_after: int) -> int:
    """Spans, log records or metric data points in a serialized request, from the wire format alone;
    stops counting past ``stop_after``. Malformed bytes count as far as they go (the decoder refuses
    them later)."""
    path = _PATHS[signal]
    count = 0
    # (level, start, end): the messages on the path still to walk; the last level's fields are counted.
    stack = [(0, 0, len(raw))]
    last = len(path) - 1
    try:
        while stack:
            level, pos, end = stack.pop()
            wanted = path[level]
            while pos < end:
                key, pos = _varint(raw, pos)
                number, wire = key >> 3, key & 7
                if wire == 2 and number in wanted:
                    length, pos = _varint(raw, pos)
                    if level == last:
                        count += 1
                        if count > stop_after:
                            return count
                    else:
                        stack.append((level + 1, pos, min(pos + length, end)))
                    pos += length
                else:
                    pos = _skip(raw, pos, wire)
    except (IndexError, ValueError):
        pass
    return count


# -- nesting depth, for requests deeper than the protobuf runtime's default ---------------------------

_MAX_WALK_FIELDS = 2_000_000  # ~1 CPU-second: a walk (only for requests the fast decode refused) is bounded


def _message_fields(descriptor: Any, cache: dict[Any, dict[int, Any]] = {}) -> dict[int, Any]:  # noqa: B006
    fields = cache.get(descriptor)
    if fields is None:
        fields = cache[descriptor] = {
            f.number: f.message_type for f in descriptor.fields if f.message_type is not None
        }
    return fields


def nesting_depth(raw: bytes, descriptor: Any, cap: int) -> int | None:
    """The deepest message nesting in ``raw`` (a serialized ``descriptor`` message), walked iteratively
    from the schema; ``None`` if it is deeper than ``cap``, malformed, or too big to walk."""
    deepest = 1
    stack = [(descriptor, 0, len(raw), 1)]
    fields_seen = 0
    try:
        while stack:
            message, pos, end, depth = stack.pop()
            children = _message_fields(message)
            while pos < end:
                fields_seen += 1
                if fields_seen > _MAX_WALK_FIELDS:
                    return None
                key, pos = _varint(raw, pos)
                number, wire = key >> 3, key & 7
                if wire == 2 and number in children:
                    length, pos = _varint(raw, pos)
                    if pos + length > end:
                        return None
                    if depth + 1 > cap:
                        return None
                    deepest = max(deepest, depth + 1)
                    stack.append((children[number], pos, pos + length, depth + 1))
                    pos += length
                else:
                    pos = _skip(raw, pos, wire)
            if pos != end:
                return None
    except (IndexError, ValueError):
        return None
    return deepest


# -- the memory budget ---------------------------------------------------------------------------------


class MemoryBudget:
    """A semaphore of bytes: requests hold their estimated working memory while they are decoded and
    enriched, so many requests at once cannot add up beyond ``total``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._changed = threading.Condition()

    def take(self, amount: int, wait: float) -> int | None:
        """Reserve ``amount`` (clamped to the whole budget: a request that fits the request limits always
        runs, alone at worst), waiting up to ``wait`` seconds; the amount taken, or ``None``."""
        amount = min(amount, self.total)
        deadline = time.monotonic() + wait
        with self._changed:
            while self.used + amount > self.total:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
            self.used += amount
        return amount

    def give_back(self, amount: int) -> None:
        with self._changed:
            self.used -= amount
            self._changed.notify_all()


# Working memory per request, measured with tracemalloc and RSS on decode + enrich + re-encode: the decoded
# message and its Python views are a few times the wire size, and every item costs its record objects
# (an empty span: ~270 bytes on the wire of 2).
_BYTES_FACTOR = 4
_ITEM_COST = 600
_JSON_FACTOR = 24  # json.loads of "{}," is a 64-byte dict per 3 bytes


class Admission:
    """The checks every request passes before the expensive work, shared by the gRPC and HTTP ingress."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.budget = MemoryBudget(limits.memory_budget_bytes)

    def check_size(self, size: int, what: str = "request") -> None:
        """Refuse (permanently) a request whose decoded size is over the limit."""
        if size > self.limits.max_request_bytes:
            raise Refused(
                f"permanent: the {what} is {size} bytes, over the limit of {self.limits.max_request_bytes} "
                "bytes; it will never be accepted: send smaller batches",
                permanent=True,
            )

    def check_items(self, count: int, signal: str) -> None:
        if count > self.limits.max_items:
            raise Refused(
                f"permanent: the {signal} request holds more than {self.limits.max_items} items "
                f"({_ITEM_NAMES[signal]}); it will never be accepted: send smaller batches",
                permanent=True,
            )

    def items(self, raw: bytes, signal: str) -> int:
        """An upper bound of the request's items, counted only when the size alone does not settle it
        (every item takes at least 2 bytes on the wire)."""
        bound = len(raw) // 2
        if bound <= self.limits.max_items:
            return bound
        return count_items(raw, signal, self.limits.max_items)

    def reserve(self, amount: int) -> int:
        """Take ``amount`` of the memory budget, or refuse (retryable) when others hold it too long."""
        taken = self.budget.take(amount, self.limits.budget_wait_seconds)
        if taken is None:
            raise Refused("the service is decoding as much as its memory budget allows: retry later", False)
        return taken

    def admit(self, raw: bytes, signal: str) -> int:
        """Check a serialized request and reserve its working memory; the amount to give back."""
        self.check_size(len(raw))
        items = self.items(raw, signal)
        self.check_items(items, signal)
        return self.reserve(len(raw) * _BYTES_FACTOR + items * _ITEM_COST)

    def json_cost(self, size: int) -> int:
        return size * _JSON_FACTOR

    def release(self, amount: int) -> None:
        self.budget.give_back(amount)


_ITEM_NAMES = {"traces": "spans", "logs": "log records", "metrics": "metric data points"}


def count_json_items(document: Any, signal: str) -> int:
    """Items of a decoded OTLP JSON document (lists only; anything else is the decoder's to refuse)."""
    path = _JSON_PATHS[signal]
    level: list[Any] = [document]
    for keys in path:
        following = []
        for item in level:
            if isinstance(item, dict):
                for key in keys:
                    value = item.get(key)
                    if isinstance(value, list):
                        following.extend(value)
                    elif isinstance(value, dict):  # metric data: {"gauge": {"dataPoints": [...]}}
                        following.append(value)
        level = following
    return len(level)


_JSON_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "traces": (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",)),
    "logs": (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")),
    "metrics": (
        ("resourceMetrics", "resource_metrics"),
        ("scopeMetrics", "scope_metrics"),
        ("metrics",),
        ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary"),
        ("dataPoints", "data_points"),
    ),
}


# -- gRPC: the same checks as an interceptor, around whatever handler the service registers ------------


def grpc_interceptor(admission: Admission, signal_of: Callable[[str], str | None]) -> Any:
    """A ``grpc.ServerInterceptor`` applying :class:`Admission` to unary Export calls that take raw bytes:
    too big -> INVALID_ARGUMENT (permanent), over the memory budget -> RESOURCE_EXHAUSTED with RetryInfo."""
    import grpc

    class Interceptor(grpc.ServerInterceptor):
        def __init__(self) -> None:
            # gRPC asks for every call: the guarded handler is built once per method and handler.
            self._guarded: dict[str, tuple[Any, Any]] = {}

        def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = continuation(details)
            cached = self._guarded.get(details.method)
            if cached is not None and cached[0] is handler:
                return cached[1]
            signal = signal_of(details.method)
            if handler is None or signal is None or handler.unary_unary is None:
                return handler
            guarded = self._guard(handler, signal)
            self._guarded[details.method] = (handler, guarded)
            return guarded

        def _guard(self, handler: Any, signal: str) -> Any:
            behavior = handler.unary_unary

            def guarded(request: Any, context: Any) -> Any:
                if not isinstance(request, bytes):
                    return behavior(request, context)
                try:
                    taken = admission.admit(request, signal)
                except Refused as refused:
                    if refused.permanent:
                        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refused))
                    context.set_trailing_metadata((("grpc-status-details-bin", _retry_status(str(refused))),))
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))
                try:
                    return behavior(request, context)
                finally:
                    admission.release(taken)

            return grpc.unary_unary_rpc_method_handler(
                guarded,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

    return Interceptor()


def _retry_status(message: str, seconds: int = 1) -> bytes:
    """A ``google.rpc.Status`` with RetryInfo: OTLP exporters retry RESOURCE_EXHAUSTED only with it."""
    from google.protobuf import any_pb2, duration_pb2
    from google.rpc import error_details_pb2, status_pb2

    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status_pb2.Status(code=8, message=message, details=[detail]).SerializeToString()


def signal_of_method(method: str) -> str | None:
    """``traces``, ``logs`` or ``metrics`` for an OTLP Export method name."""
    return _METHODS.get(method)


_METHODS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": "traces",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": "logs",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": "metrics",
}
