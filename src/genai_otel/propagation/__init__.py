"""Trace context and agent baggage across services: HTTP, gRPC, queues, MCP, A2A.

``genai_otel.instrument()`` wraps the global propagator in :class:`AgentContextPropagator`, so every
OpenTelemetry instrumentation that propagates (the contrib HTTP, gRPC, pika, aio-pika and Kafka
instrumentations, the MCP SDK, genai-otel's Redis Streams and NATS instrumentations) applies the
agent baggage policy: inbound keys only from an allow-list and within size caps, outbound baggage
only to trusted hosts. For a transport of your own::

    from genai_otel import propagation

    headers = {}
    propagation.inject(headers, destination="http://planner.internal:8000")   # caller
    ...
    with propagation.continue_from(request.headers):                          # callee
        handle(request)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from genai_otel import semconv
from genai_otel.config import Settings
from genai_otel.propagation.policy import BaggagePolicy
from genai_otel.telemetry.safety import safely

__all__ = [
    "AgentContextPropagator",
    "BaggagePolicy",
    "FieldsGetter",
    "continue_from",
    "extract",
    "fields_getter",
    "inject",
    "install",
    "uninstall",
]

_logger = logging.getLogger(__name__)
_DESTINATION = otel_context.create_key("genai_otel.destination")
# Attributes an outgoing client span may carry that name where the request goes.
_HOST_ATTRIBUTES = (semconv.SERVER_ADDRESS, "net.peer.name")
_URL_ATTRIBUTES = ("url.full", "http.url")


class AgentContextPropagator(TextMapPropagator):
    """Wraps a propagator (the global one) and applies the :class:`BaggagePolicy` to baggage."""

    def __init__(self, inner: TextMapPropagator, policy: BaggagePolicy) -> None:
        self.inner = inner
        self.policy = policy

    @property
    def fields(self) -> set[str]:
        return self.inner.fields

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        extracted = self.inner.extract(carrier, context, getter)
        return safely("propagation.extract", self._filter_inbound, context, extracted) or extracted

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        outbound = safely("propagation.inject", self._filter_outbound, context)
        self.inner.inject(carrier, outbound if outbound is not None else context, setter)

    def _filter_inbound(self, before: Context | None, extracted: Context) -> Context:
        local = baggage.get_all(before)
        inbound = {k: v for k, v in baggage.get_all(extracted).items() if local.get(k) != v}
        if not inbound:
            return extracted
        accepted, rejected = self.policy.accept(inbound)
        if rejected:
            _logger.info("genai-otel: inbound baggage rejected: %s", "; ".join(rejected[:8]))
        ctx = baggage.clear(extracted)
        for key, value in {**local, **accepted}.items():
            ctx = baggage.set_baggage(key, value, ctx)
        return ctx

    def _filter_outbound(self, context: Context | None) -> Context | None:
        ctx = context if context is not None else otel_context.get_current()
        if not baggage.get_all(ctx) or self.policy.host_trusted(_destination_of(ctx)):
            return context
        return baggage.clear(ctx)


def _destination_of(ctx: Context) -> str | None:
    """The host the carrier is going to: given explicitly, or read off the outgoing client span."""
    explicit = otel_context.get_value(_DESTINATION, ctx)
    if explicit is not None:
        return explicit
    attributes = getattr(trace.get_current_span(ctx), "attributes", None) or {}
    for key in _HOST_ATTRIBUTES:
        if attributes.get(key):
            return str(attributes[key])
    for key in _URL_ATTRIBUTES:
        if attributes.get(key):
            return urlsplit(str(attributes[key])).hostname
    return None


@functools.lru_cache(maxsize=1)
def _policy_from_env() -> BaggagePolicy:
    return BaggagePolicy.from_settings(Settings.from_env())


def _propagator() -> AgentContextPropagator:
    """The installed guarded propagator, or the global one guarded with the env policy."""
    current = propagate.get_global_textmap()
    if isinstance(current, AgentContextPropagator):
        return current
    return AgentContextPropagator(current, _policy_from_env())


class FieldsGetter(Getter[Mapping[Any, Any]]):
    """Reads a carrier whose keys and values may be ``bytes`` (Redis stream entries, raw headers)."""

    def get(self, carrier: Mapping[Any, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            value = carrier.get(key.encode())
        if value is None:
            return None
        return [value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)]

    def keys(self, carrier: Mapping[Any, Any]) -> list[str]:
        return [
            k.decode("utf-8", "replace") if isinstance(k, (bytes, bytearray)) else str(k) for k in carrier
        ]


fields_getter = FieldsGetter()


def install(settings: Settings | None = None) -> AgentContextPropagator:
    """Wrap the global propagator so every instrumentation applies the agent baggage policy."""
    policy = BaggagePolicy.from_settings(settings or Settings.from_env())
    current = propagate.get_global_textmap()
    inner = current.inner if isinstance(current, AgentContextPropagator) else current
    guarded = AgentContextPropagator(inner, policy)
    propagate.set_global_textmap(guarded)
    return guarded


def uninstall() -> None:
    """Put back the propagator :func:`install` wrapped."""
    current = propagate.get_global_textmap()
    if isinstance(current, AgentContextPropagator):
        propagate.set_global_textmap(current.inner)


def inject(
    carrier: MutableMapping[str, Any],
    *,
    context: Context | None = None,
    setter: Setter[Any] = default_setter,
    destination: str | None = None,
) -> None:
    """Write ``traceparent``/``tracestate``/``baggage`` into ``carrier`` (headers, message fields, ``_meta``).

    ``destination`` (a host or URL) decides whether baggage may go along; without it the current
    client span's ``server.address``/``url.full`` is used, and a carrier with no known destination
    (a queue) gets the baggage.
    """
    ctx = context if context is not None else otel_context.get_current()
    if destination is not None:
        host = urlsplit(destination).hostname if "://" in destination else destination
        ctx = otel_context.set_value(_DESTINATION, host, ctx)
    _propagator().inject(carrier, context=ctx, setter=setter)


def extract(
    carrier: Mapping[str, Any], *, context: Context | None = None, getter: Getter[Any] = default_getter
) -> Context:
    """Read trace context and the accepted baggage from ``carrier``; malformed input is ignored."""
    try:
        return _propagator().extract(carrier, context=context, getter=getter)
    except Exception:  # a hostile carrier must never break the receiving service
        _logger.info("genai-otel: could not extract trace context", exc_info=True)
        return context if context is not None else otel_context.get_current()


@contextmanager
def continue_from(
    carrier: Mapping[str, Any] | None, *, getter: Getter[Any] = default_getter
) -> Iterator[Context]:
    """Make the context carried by ``carrier`` current for the block (the callee side of a hop)."""
    ctx = extract(carrier or {}, getter=getter)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)
