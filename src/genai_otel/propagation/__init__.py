"""Trace context and agent baggage across services: HTTP, gRPC, queues, MCP, A2A.

``genai_otel.instrument()`` -- and, under ``opentelemetry-instrument``, every genai-otel
instrumentor as it loads -- wraps the global propagator in :class:`AgentContextPropagator`, so every
OpenTelemetry instrumentation that propagates (the contrib HTTP, gRPC, pika, aio-pika and Kafka
instrumentations, the MCP SDK, genai-otel's Redis Streams and NATS instrumentations) applies the
agent baggage policy (:mod:`genai_otel.propagation.policy`): inbound keys only from an allow-list,
within size caps, loop-guard keys only from trusted peers; outbound baggage only to trusted hosts.
The wrapping is reference-counted (the last uninstrument removes it), and a propagator set later
through ``opentelemetry.propagate.set_global_textmap`` is wrapped too while it is installed.

Where baggage may go never depends on sampling: the destination is read from an explicit
``destination``, the carrier's ``Host`` header, the model call being made, or the recording client
span -- and a destination that is not known gets no baggage. For a transport of your own::

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
import re
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
from genai_otel.safety import safely

__all__ = [
    "TRUSTED",
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
#: Set by the telemetry handler around a model (or vector store) call whose span does not record:
#: the host that call goes to, so baggage decisions do not depend on sampling.
CALL_DESTINATION = otel_context.create_key("genai_otel.call_destination")


class _Trusted:
    """``TRUSTED``: the code injecting or extracting vouches for the other side (a queue of its own)."""

    def __repr__(self) -> str:
        return "propagation.TRUSTED"


#: Pass as ``destination=`` to :func:`inject` or ``peer=`` to :func:`extract` when the other side is
#: known to be yours (an internal queue): baggage goes along, hop counts are believed.
TRUSTED: Any = _Trusted()
_FROM_CARRIER: Any = object()
# What :func:`inject` called without a destination falls back to when nothing names one: the caller
# vouches (a queue message); the global propagator, used by the contrib instrumentations, has none.
_FALLBACK_DESTINATION = otel_context.create_key("genai_otel.fallback_destination")
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
        return self.extract_from(carrier, context, getter)

    def extract_from(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
        peer: Any = _FROM_CARRIER,
    ) -> Context:
        """:meth:`extract`, with the sending ``peer`` (an address, ``None`` for unknown, or
        :data:`TRUSTED`); by default it is read off the carrier (an ASGI scope, a WSGI environ)."""
        extracted = self.inner.extract(carrier, context, getter)
        filtered = safely(
            "propagation.extract", self._filter_inbound, context, extracted, carrier, getter, peer
        )
        # Our bug must not let unfiltered baggage through: keep the trace, drop the baggage.
        return filtered if filtered is not None else baggage.clear(extracted)

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        outbound = safely("propagation.inject", self._filter_outbound, context, carrier)
        if outbound is None:  # our bug: never let baggage out unchecked
            outbound = baggage.clear(context if context is not None else otel_context.get_current())
        self.inner.inject(carrier, outbound, setter)

    def _filter_inbound(
        self, before: Context | None, extracted: Context, carrier: Any, getter: Getter[Any], peer: Any
    ) -> Context:
        local = baggage.get_all(before)
        inbound = {k: v for k, v in baggage.get_all(extracted).items() if local.get(k) != v}
        if not inbound:
            return extracted
        if peer is _FROM_CARRIER:
            trusted = all(self.policy.peer_trusted(p) for p in _peers_of(carrier, getter))
        else:
            trusted = peer is TRUSTED or self.policy.peer_trusted(peer)
        accepted, rejected = self.policy.accept(inbound, peer_trusted=trusted)
        if rejected:
            _logger.info("genai-otel: inbound baggage rejected: %s", "; ".join(rejected[:8]))
        ctx = baggage.clear(extracted)
        for key, value in {**local, **accepted}.items():
            ctx = baggage.set_baggage(key, value, ctx)
        return ctx

    def _filter_outbound(self, context: Context | None, carrier: Any) -> Context:
        ctx = context if context is not None else otel_context.get_current()
        if not baggage.get_all(ctx):
            return ctx
        destination = _destination_of(ctx, carrier)
        if destination is TRUSTED or self.policy.host_trusted(destination):
            return ctx
        return baggage.clear(ctx)


def _carrier_host(carrier: Any) -> str | None:
    """The ``Host`` header of an outgoing request carrier (httpx and urllib3 headers carry it)."""
    get = getattr(carrier, "get", None)
    if get is None:
        return None
    for key in ("host", "Host", ":authority"):
        value = get(key)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value:
            return urlsplit(f"//{value}").hostname
    return None


def _destination_of(ctx: Context, carrier: Any = None) -> Any:
    """The host the carrier is going to, or ``None`` when it is not known: given explicitly, the
    carrier's ``Host`` header, the outgoing client span's attributes, or the model call being made."""
    explicit = otel_context.get_value(_DESTINATION, ctx)
    if explicit is not None:
        return explicit
    host = _carrier_host(carrier) if carrier is not None else None
    if host:
        return host
    attributes = getattr(trace.get_current_span(ctx), "attributes", None) or {}
    for key in _HOST_ATTRIBUTES:
        if attributes.get(key):
            return str(attributes[key])
    for key in _URL_ATTRIBUTES:
        if attributes.get(key):
            return urlsplit(str(attributes[key])).hostname
    if attributes.get(semconv.MESSAGING_SYSTEM):  # a producer span naming no broker: a queue of yours
        return TRUSTED
    call = otel_context.get_value(CALL_DESTINATION, ctx)
    return call if call is not None else otel_context.get_value(_FALLBACK_DESTINATION, ctx)


def _last_forwarded(values: list[str] | None, forwarded_syntax: bool) -> str | None:
    if not values:
        return None
    last = values[-1].split(",")[-1].strip()
    if forwarded_syntax:  # RFC 7239: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"
        match = re.search(r'(?i)(?:^|;)\s*for="?([^";]+)"?', last)
        last = match.group(1) if match else ""
        if last.startswith("[") or last.count(":") == 1:
            last = urlsplit(f"//{last}").hostname or ""
    return last or "unknown"


def _peers_of(carrier: Any, getter: Getter[Any]) -> list[str | None]:
    """Who sent an inbound carrier: the socket peer of an ASGI scope or WSGI environ (``None`` when
    the carrier does not say) and, when the request passed proxies, the address the nearest one saw
    (the last ``X-Forwarded-For`` / ``Forwarded`` entry, the only one a client cannot forge)."""
    direct: str | None = None
    if isinstance(carrier, Mapping):
        client = carrier.get("client")
        if isinstance(client, (tuple, list)) and client:
            direct = str(client[0])
        elif isinstance(carrier.get("REMOTE_ADDR"), str):
            direct = carrier["REMOTE_ADDR"]
    peers: list[str | None] = [direct]
    for header, syntax in (("x-forwarded-for", False), ("forwarded", True)):
        try:
            relayed = _last_forwarded(getter.get(carrier, header), syntax)
        except Exception:  # a getter that cannot read this carrier: no relay information
            relayed = None
        if relayed is not None:
            peers.append(relayed)
    return peers


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


_installs = 0
_unguarded_setter = propagate.set_global_textmap


def _guarded_setter(http_text_format: TextMapPropagator) -> None:
    """``set_global_textmap`` while the policy is installed: a propagator set later (an app or a
    distro configuring its own after the instrumentors loaded) gets the policy too."""
    current = propagate.get_global_textmap()
    if isinstance(current, AgentContextPropagator) and not isinstance(
        http_text_format, AgentContextPropagator
    ):
        http_text_format = AgentContextPropagator(http_text_format, current.policy)
    _unguarded_setter(http_text_format)


def install(settings: Settings | None = None) -> AgentContextPropagator:
    """Wrap the global propagator so every instrumentation applies the agent baggage policy.

    Idempotent and reference-counted: each call must be paired with :func:`uninstall`; the last one
    puts the original propagator back. The latest settings give the policy."""
    global _installs
    policy = BaggagePolicy.from_settings(settings or Settings.from_env())
    current = propagate.get_global_textmap()
    if isinstance(current, AgentContextPropagator) and current.policy == policy:
        guarded = current
    else:
        inner = current.inner if isinstance(current, AgentContextPropagator) else current
        guarded = AgentContextPropagator(inner, policy)
        _unguarded_setter(guarded)
    _installs += 1
    propagate.set_global_textmap = _guarded_setter  # type: ignore[assignment]
    return guarded


def uninstall() -> None:
    """Undo one :func:`install`; the last one puts back the propagator it wrapped."""
    global _installs
    _installs = max(0, _installs - 1)
    if _installs:
        return
    if propagate.set_global_textmap is _guarded_setter:
        propagate.set_global_textmap = _unguarded_setter  # type: ignore[assignment]
    current = propagate.get_global_textmap()
    if isinstance(current, AgentContextPropagator):
        _unguarded_setter(current.inner)


def inject(
    carrier: MutableMapping[str, Any],
    *,
    context: Context | None = None,
    setter: Setter[Any] = default_setter,
    destination: str | None = None,
) -> None:
    """Write ``traceparent``/``tracestate``/``baggage`` into ``carrier`` (headers, message fields, ``_meta``).

    ``destination`` (a host or URL, or :data:`TRUSTED`) decides whether baggage may go along;
    without it the carrier's ``Host`` header or the current client span's ``server.address``/``url.full``
    is used, and a carrier that names no destination at all (a message for a queue of yours) gets
    the baggage. (Instrumentations calling OpenTelemetry's own ``inject`` get none there.)
    """
    ctx = context if context is not None else otel_context.get_current()
    if destination is None:
        ctx = otel_context.set_value(_FALLBACK_DESTINATION, TRUSTED, ctx)
    else:
        host = destination
        if destination is not TRUSTED:
            host = (urlsplit(destination).hostname if "://" in destination else destination) or ""
        ctx = otel_context.set_value(_DESTINATION, host, ctx)
    _propagator().inject(carrier, context=ctx, setter=setter)


def extract(
    carrier: Mapping[str, Any],
    *,
    context: Context | None = None,
    getter: Getter[Any] = default_getter,
    peer: Any = _FROM_CARRIER,
) -> Context:
    """Read trace context and the accepted baggage from ``carrier``; malformed input is ignored.

    ``peer`` is who sent it -- an address, ``None`` for unknown, or :data:`TRUSTED` for a queue of
    your own -- and decides whether its agent hop count is believed; by default it is read off the
    carrier (an ASGI scope or WSGI environ), and a carrier that does not say counts as unknown."""
    try:
        return _propagator().extract_from(carrier, context, getter, peer)
    except Exception:  # a hostile carrier must never break the receiving service
        _logger.info("genai-otel: could not extract trace context", exc_info=True)
        return context if context is not None else otel_context.get_current()


@contextmanager
def continue_from(
    carrier: Mapping[str, Any] | None, *, getter: Getter[Any] = default_getter, peer: Any = _FROM_CARRIER
) -> Iterator[Context]:
    """Make the context carried by ``carrier`` current for the block (the callee side of a hop);
    ``peer`` as for :func:`extract`."""
    ctx = extract(carrier or {}, getter=getter, peer=peer)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)
