"""Messaging spans for agents talking over queues (Redis Streams, NATS, custom transports).

Follows the messaging conventions: a PRODUCER ``send {destination}`` span whose context is injected
into the message; a CONSUMER ``process {destination}`` span that continues the producer's trace for
a single message and links every message's creation context (for batches and fan-in the parent is
the consumer's current context and each message is a link).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter, Setter, default_getter, default_setter
from opentelemetry.trace import Link, Span, SpanKind

from genai_otel import propagation, semconv
from genai_otel.telemetry.invocation import mark_failed


def _attributes(
    system: str, operation_type: str, operation_name: str, destination: str | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    attributes = {
        semconv.MESSAGING_SYSTEM: system,
        semconv.MESSAGING_OPERATION_TYPE: operation_type,
        semconv.MESSAGING_OPERATION_NAME: operation_name,
    }
    if destination:
        attributes[semconv.MESSAGING_DESTINATION_NAME] = destination
    attributes.update({k: v for k, v in extra.items() if v is not None})
    return attributes


def _broker(attributes: Mapping[str, Any]) -> Any:
    """Who delivered the messages, for the hop-count trust decision: the broker when the consumer names
    it (judged by its address like any peer), else :data:`propagation.TRUSTED` -- a queue of the app's
    own, the mirror of the outbound rule that sends baggage to a producer naming no broker."""
    return attributes.get(semconv.SERVER_ADDRESS) or propagation.TRUSTED


def _links(contexts: Sequence[otel_context.Context]) -> list[Link]:
    span_contexts = (trace.get_current_span(ctx).get_span_context() for ctx in contexts)
    return [Link(sc) for sc in span_contexts if sc.is_valid]


def _span_name(operation_name: str, destination: str | None) -> str:
    return f"{operation_name} {destination}" if destination else operation_name


@contextmanager
def _recording(span: Span, token: object) -> Iterator[Span]:
    try:
        yield span
    except BaseException as error:
        mark_failed(span, error)
        raise
    finally:
        otel_context.detach(token)
        span.end()


class MessagingTelemetry:
    """Producer and consumer spans on one tracer."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_send(
        self,
        system: str,
        destination: str | None,
        carrier: MutableMapping[str, Any],
        *,
        operation_name: str = "send",
        setter: Setter[Any] = default_setter,
        **attributes: Any,
    ) -> Span:
        """Open a PRODUCER span (not made current) and inject its context into ``carrier``."""
        span = self._tracer.start_span(
            _span_name(operation_name, destination),
            kind=SpanKind.PRODUCER,
            attributes=_attributes(system, "send", operation_name, destination, attributes),
        )
        propagation.inject(carrier, context=trace.set_span_in_context(span), setter=setter)
        return span

    @staticmethod
    def end(span: Span, error: BaseException | None = None, message_id: str | None = None) -> None:
        """End a PRODUCER span from :meth:`start_send`, with the id the system gave the message."""
        if message_id:
            span.set_attribute(semconv.MESSAGING_MESSAGE_ID, message_id)
        if error is not None:
            mark_failed(span, error)
        span.end()

    @contextmanager
    def send(
        self, system: str, destination: str | None, carrier: MutableMapping[str, Any], **options: Any
    ) -> Iterator[Span]:
        """PRODUCER span around publishing; ``carrier`` receives its context before the block runs.
        ``options`` are those of :meth:`start_send`."""
        span = self.start_send(system, destination, carrier, **options)
        token = otel_context.attach(trace.set_span_in_context(span))
        with _recording(span, token):
            yield span

    @contextmanager
    def process(
        self,
        system: str,
        destination: str | None,
        carriers: Sequence[Mapping[str, Any] | None],
        *,
        operation_name: str = "process",
        getter: Getter[Any] = default_getter,
        **attributes: Any,
    ) -> Iterator[Span]:
        """CONSUMER span around handling ``carriers`` (one per message): child of a single message's
        context, linked to every message's context."""
        peer = _broker(attributes)
        contexts = [propagation.extract(c or {}, getter=getter, peer=peer) for c in carriers]
        links = _links(contexts)
        parent = contexts[0] if len(contexts) == 1 and links else otel_context.get_current()
        if len(carriers) != 1:
            attributes.setdefault(semconv.MESSAGING_BATCH_MESSAGE_COUNT, len(carriers))
        span = self._tracer.start_span(
            _span_name(operation_name, destination),
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=_attributes(system, "process", operation_name, destination, attributes),
        )
        # The single message's baggage (conversation, agent path) applies to the work it causes.
        ctx = trace.set_span_in_context(span, parent)
        token = otel_context.attach(ctx)
        with _recording(span, token):
            yield span

    def received(
        self,
        system: str,
        destination: str | None,
        carriers: Sequence[Mapping[str, Any] | None],
        *,
        operation_name: str = "receive",
        getter: Getter[Any] = default_getter,
        **attributes: Any,
    ) -> None:
        """A finished CONSUMER ``receive`` span for a pull that returned ``carriers``, linking each."""
        peer = _broker(attributes)
        links = _links([propagation.extract(c or {}, getter=getter, peer=peer) for c in carriers])
        if len(carriers) != 1:
            attributes.setdefault(semconv.MESSAGING_BATCH_MESSAGE_COUNT, len(carriers))
        span = self._tracer.start_span(
            _span_name(operation_name, destination),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=_attributes(system, "receive", operation_name, destination, attributes),
        )
        span.end()
