"""NATS (nats-py): trace context and agent baggage travel in message headers.

``Client.publish`` (also used by ``request``, ``Msg.respond`` and JetStream publishing) opens a
PRODUCER ``publish {subject}`` span and injects ``traceparent`` / ``tracestate`` / ``baggage``
into the headers; callbacks given to ``Client.subscribe(cb=...)`` run inside a CONSUMER
``process {subject}`` span that continues the publisher's trace. For messages pulled with
``next_msg()``, wrap the handling in ``genai_otel.messaging.process("nats", msg.subject, [msg.headers])``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from genai_otel import semconv
from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.safety import safely
from genai_otel.telemetry import TelemetryHandler

SYSTEM = "nats"
_CLIENT = "nats.aio.client"


def _server(client: Any) -> dict[str, Any]:
    url = getattr(client, "connected_url", None)
    if url is None or not getattr(url, "hostname", None):
        return {}
    return {semconv.SERVER_ADDRESS: url.hostname, semconv.SERVER_PORT: url.port or 4222}


def _publish(handler: TelemetryHandler) -> Any:
    messaging = handler.messaging

    async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():  # suppress_instrumentation(): no span, headers as given
            return await wrapped(*args, **kwargs)
        subject = args[0] if args else kwargs.get("subject", "")
        headers = dict(kwargs.get("headers") or (args[3] if len(args) > 3 and args[3] else {}))
        span = safely(
            "nats.publish",
            messaging.start_send,
            SYSTEM,
            subject,
            headers,
            operation_name="publish",
            **_server(instance),
        )
        if span is None:
            return await wrapped(*args, **kwargs)
        args = args[:3]
        try:
            result = await wrapped(*args, **{**kwargs, "headers": headers})
        except BaseException as error:
            messaging.end(span, error)
            raise
        messaging.end(span)
        return result

    return wrapper


def _subscribe(handler: TelemetryHandler) -> Any:
    messaging = handler.messaging

    def wrap_callback(cb: Any) -> Any:
        async def traced(msg: Any) -> Any:
            with messaging.process(SYSTEM, msg.subject, [msg.headers or {}]):
                return await cb(msg)

        traced.__wrapped__ = cb  # type: ignore[attr-defined]
        return traced

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if len(args) > 2 and args[2] is not None:
            args = (*args[:2], wrap_callback(args[2]), *args[3:])
        elif kwargs.get("cb") is not None:
            kwargs = {**kwargs, "cb": wrap_callback(kwargs["cb"])}
        return wrapped(*args, **kwargs)

    return wrapper


class NatsInstrumentor(GenAIInstrumentor):
    """Propagates trace context and agent baggage through NATS message headers."""

    dependencies = ("nats-py >= 2.2",)

    def patches(self) -> Iterable[Patch]:
        yield Patch(_CLIENT, "Client.publish", _publish)
        yield Patch(_CLIENT, "Client.subscribe", _subscribe)
