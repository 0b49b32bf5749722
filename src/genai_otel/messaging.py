"""Messaging spans for agent traffic over any queue, for transports genai-otel does not patch.

Producer side -- the message carries the trace context (and agent baggage)::

    headers = {}
    with genai_otel.messaging.send("rabbitmq", "tasks", headers):
        channel.publish(body, headers=headers)

Consumer side -- one message continues the producer's trace; a batch links every message::

    with genai_otel.messaging.process("rabbitmq", "tasks", [message.headers]):
        handle(message)

Redis Streams and NATS are instrumented automatically (``genai_otel.instrument()``); pika,
aio-pika, Kafka, HTTP and gRPC propagate through their OpenTelemetry contrib instrumentations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Span

from genai_otel.propagation import fields_getter
from genai_otel.telemetry.handler import default_handler

__all__ = ["process", "send"]


@contextmanager
def send(
    system: str, destination: str | None, carrier: MutableMapping[str, Any], **attributes: Any
) -> Iterator[Span]:
    """A PRODUCER ``send {destination}`` span; ``carrier`` gets ``traceparent``/``tracestate``/``baggage``."""
    with default_handler().messaging.send(system, destination, carrier, **attributes) as span:
        yield span


@contextmanager
def process(
    system: str, destination: str | None, carriers: Sequence[Mapping[Any, Any] | None], **attributes: Any
) -> Iterator[Span]:
    """A CONSUMER ``process {destination}`` span for the messages whose carriers are given
    (headers or fields; ``bytes`` keys are fine)."""
    with default_handler().messaging.process(
        system, destination, carriers, getter=fields_getter, **attributes
    ) as span:
        yield span
