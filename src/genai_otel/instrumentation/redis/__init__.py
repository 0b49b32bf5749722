"""Redis Streams: trace context and agent baggage travel inside each stream entry.

No OpenTelemetry contrib instrumentation propagates through Redis Streams, so genai-otel does it:
``XADD`` opens a PRODUCER ``send {stream}`` span and adds ``traceparent`` / ``tracestate`` /
``baggage`` fields to the entry; ``XREAD`` / ``XREADGROUP`` record a CONSUMER ``receive {stream}``
span linking every message returned. Process each entry under
``genai_otel.messaging.process("redis", stream, [fields])`` to continue the producer's trace.
Sync and asyncio clients (and pipelines) are covered.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from genai_otel import semconv
from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.propagation import fields_getter
from genai_otel.safety import safely
from genai_otel.telemetry import TelemetryHandler

SYSTEM = "redis"
_COMMANDS = "redis.commands.core"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _server(instance: Any) -> dict[str, Any]:
    kwargs = getattr(getattr(instance, "connection_pool", None), "connection_kwargs", None) or {}
    if "host" not in kwargs:
        return {}
    return {semconv.SERVER_ADDRESS: kwargs["host"], semconv.SERVER_PORT: kwargs.get("port", 6379)}


def _after(result: Any, done: Any) -> Any:
    """Call ``done(value, error)`` once ``result`` is known (now, or when an async call completes)."""
    if not inspect.isawaitable(result):
        safely("redis", done, result, None)
        return result

    async def awaited() -> Any:
        try:
            value = await result
        except BaseException as error:
            safely("redis", done, None, error)
            raise
        safely("redis", done, value, None)
        return value

    return awaited()


def _xadd(handler: TelemetryHandler) -> Any:
    messaging = handler.messaging

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        name = args[0] if args else kwargs.get("name")
        fields = args[1] if len(args) > 1 else kwargs.get("fields")
        # Under suppress_instrumentation() the entry goes out as the caller wrote it, with no span.
        if not isinstance(fields, Mapping) or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        carrier = dict(fields)  # never mutate the caller's dict
        span = safely(
            "redis.xadd",
            messaging.start_send,
            SYSTEM,
            _text(name),
            carrier,
            operation_name="xadd",
            **_server(instance),
        )
        if span is None:
            return wrapped(*args, **kwargs)
        args = (args[0], carrier, *args[2:]) if len(args) > 1 else args
        if len(args) < 2:
            kwargs = {**kwargs, "fields": carrier}
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            messaging.end(span, error)
            raise

        def done(value: Any, error: BaseException | None) -> None:
            message_id = _text(value) if isinstance(value, (bytes, str)) else None
            messaging.end(span, error, message_id=message_id)

        return _after(result, done)

    return wrapper


def _entries_by_stream(result: Any) -> Iterable[tuple[str, list[Any]]]:
    """XREAD replies: a list of ``[stream, [(id, fields), ...]]`` (RESP2) or a dict (RESP3)."""
    if isinstance(result, Mapping):
        for stream, entries in result.items():
            nested = (
                entries and isinstance(entries[0], list) and entries[0] and isinstance(entries[0][0], list)
            )
            flat = entries[0] if nested else entries
            yield _text(stream), list(flat or ())
    elif isinstance(result, list):
        for item in result:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                yield _text(item[0]), list(item[1] or ())


def _xread(handler: TelemetryHandler, operation: str) -> Any:
    messaging = handler.messaging

    def record(instance: Any, kwargs: dict, result: Any) -> None:
        group = kwargs.get("groupname")
        for stream, entries in _entries_by_stream(result):
            carriers = [e[1] for e in entries if isinstance(e, (list, tuple)) and len(e) == 2 and e[1]]
            if not carriers:
                continue
            extra = {semconv.MESSAGING_CONSUMER_GROUP_NAME: _text(group)} if group else {}
            messaging.received(
                SYSTEM,
                stream,
                carriers,
                operation_name=operation,
                getter=fields_getter,
                **extra,
                **_server(instance),
            )

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        result = wrapped(*args, **kwargs)
        if operation == "xreadgroup" and args:
            kwargs = {**kwargs, "groupname": args[0]}

        def done(value: Any, error: BaseException | None) -> None:
            if error is None and value:
                record(instance, kwargs, value)

        return _after(result, done)

    return wrapper


class RedisStreamsInstrumentor(GenAIInstrumentor):
    """Propagates trace context and agent baggage through Redis Streams entries."""

    dependencies = ("redis >= 4.0",)

    def patches(self) -> Iterable[Patch]:
        yield Patch(_COMMANDS, "StreamCommands.xadd", _xadd)
        yield Patch(_COMMANDS, "StreamCommands.xread", lambda h: _xread(h, "xread"))
        yield Patch(_COMMANDS, "StreamCommands.xreadgroup", lambda h: _xread(h, "xreadgroup"))
