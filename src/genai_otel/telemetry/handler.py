"""The one place where invocation records become spans, metrics and events.

The handler orchestrates; each concern lives in its own module: the record -> attribute tables
(:mod:`.attributes`), framework ownership of client calls (:mod:`.ownership`), what baggage from
upstream agents adds (:mod:`.inherited`), the inference event (:mod:`.events`), metrics
(:mod:`.metrics`) and content serialisation (:mod:`.content`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry._logs import get_logger
from opentelemetry.metrics import get_meter
from opentelemetry.trace import Status, StatusCode

from genai_otel import _default, propagation, semconv
from genai_otel.config import Settings
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry import content, ownership, upload
from genai_otel.telemetry.attributes import (
    DB_POINT_FIELDS,
    Fields,
    coerce_extra,
    span_name,
    tables,
)
from genai_otel.telemetry.attributes import read as _read  # module global: fault-injection harnesses patch it
from genai_otel.telemetry.events import InferenceEvents
from genai_otel.telemetry.inherited import inherit
from genai_otel.telemetry.invocation import Invocation, VectorDbInvocation, error_type_of, record_error
from genai_otel.telemetry.messaging import MessagingTelemetry
from genai_otel.telemetry.metrics import DbMetricRecorder, MetricRecorder
from genai_otel.version import __version__

__all__ = [
    "TelemetryHandler",
    "adopt_default_handler",
    "default_handler",
    "error_type_of",
    "release_default_handler",
    "set_default_handler",
]


class TelemetryHandler:
    """Turns invocation records into spans, metrics and events following the selected profiles.

    ``start`` opens the span (and makes it current unless ``activate=False``); ``stop`` /
    ``fail`` finish it exactly once, however often they are called.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        # The schema URL names the conventions generation we follow (conventions/UPSTREAM.yaml).
        schema_url = semconv.SCHEMA_URL
        self._tracer = trace.get_tracer(
            "genai_otel", __version__, tracer_provider=tracer_provider, schema_url=schema_url
        )
        meter = get_meter("genai_otel", __version__, meter_provider=meter_provider, schema_url=schema_url)
        self._metrics = MetricRecorder(meter, self.settings.profiles)
        self._db_metrics = DbMetricRecorder(meter)
        self._events = InferenceEvents(
            get_logger("genai_otel", __version__, logger_provider=logger_provider, schema_url=schema_url),
            self.settings,
        )
        self._aliases = tuple(
            {
                new: old
                for profile in self.settings.profiles
                for new, old in semconv.METRIC_PROFILES[profile]["span_aliases"].items()
            }.items()
        )
        # Settings are frozen: the flags every call consults, read once here rather than per call.
        capture = self.settings.content_capture
        self._capture_content = capture.on_span or capture.on_event
        self._content_on_span = capture.on_span
        self._emits_event = self.settings.emits_event
        self.messaging = MessagingTelemetry(self._tracer)
        # None unless content capture is on and an upload hook is set: nothing more per call otherwise.
        self._upload = upload.from_settings(self.settings)

    @property
    def tracer(self) -> trace.Tracer:
        return self._tracer

    @property
    def capture_content(self) -> bool:
        """Whether instrumentors should collect message content at all (any capture mode but NO_CONTENT)."""
        return self._capture_content

    def _alias(self, attributes: dict[str, Any]) -> dict[str, Any]:
        for new, old in self._aliases:
            if new in attributes:
                attributes[old] = attributes[new]
        return attributes

    # -- lifecycle ---------------------------------------------------------------------------

    def start(
        self, inv: Invocation, *, activate: bool = True, context: otel_context.Context | None = None
    ) -> Invocation:
        context = ownership.live_context(context)
        if ownership.claim(inv, context):
            # One model call, one span: the framework's span owns it; this record merges into it.
            inv.start_ns = time.perf_counter_ns()
            return inv
        entries = baggage.get_all(context)
        if entries:
            inherit(inv, entries)
        attributes = _read(inv, tables(type(inv)).request, {inv.OPERATION_ATTRIBUTE: inv.operation})
        choice_count = getattr(inv, "choice_count", None)
        if choice_count is not None and choice_count != 1:
            attributes[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = choice_count
        if inv.attributes:
            attributes.update(coerce_extra(inv.attributes))
        name = span_name(inv)
        inv.start_ns = time.perf_counter_ns()
        if self._aliases:
            self._alias(attributes)
        inv.span = self._tracer.start_span(name, context=context, kind=inv.kind, attributes=attributes)
        if activate:
            context = self.context_for(inv)
            if not inv.owns_client_calls:  # its context holds the record: no cycle kept on the record
                inv.run_context = context
            inv.context_token = otel_context.attach(context)
        return inv

    @staticmethod
    def context_for(inv: Invocation, base: otel_context.Context | None = None) -> otel_context.Context:
        """The context in which work belonging to ``inv`` runs: its span is the parent, and a
        client call made there merges into ``inv`` when it owns client calls."""
        ctx = trace.set_span_in_context(inv.span, base) if inv.span is not None else base
        if inv.owns_client_calls:
            ctx = ownership.owning(inv, ctx)
        elif inv.server_address and inv.span is not None and not inv.span.is_recording():
            # A recording span tells the propagator where this call goes (server.address); an
            # unsampled one does not: say it here, so baggage never depends on sampling.
            ctx = otel_context.set_value(propagation.CALL_DESTINATION, inv.server_address, ctx)
        return ctx or otel_context.get_current()

    def update_request(self, inv: Invocation, **values: Any) -> None:
        """Request fields learned after ``inv`` started (a framework reports a tool's description in a
        nested call): set on the record and written to its open span."""
        for name, value in values.items():
            setattr(inv, name, value)
        if inv.span is None or inv.ended:
            return
        known = dict(tables(type(inv)).request)
        attributes = {known[n]: v for n, v in values.items() if n in known and v is not None}
        if attributes:
            inv.span.set_attributes(self._alias(attributes))

    #: ``inv`` owns the next client call made in this context even after its scope was left
    #: (streams consumed later); a claimed or ended record is ignored.
    expect_client_call = staticmethod(ownership.expect_client_call)

    def deactivate(self, inv: Invocation) -> None:
        """Stop the span being current (it stays open, e.g. while a stream is consumed)."""
        token, inv.context_token = inv.context_token, None
        if token is not None:
            otel_context.detach(token)

    @contextmanager
    def activated(self, inv: Invocation) -> Iterator[None]:
        """Make an open span current for a block (used when the request happens later)."""
        if inv.span is None:
            yield
            return
        with trace.use_span(
            inv.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            yield

    def stop(self, inv: Invocation) -> None:
        self._finish(inv, None)

    def fail(self, inv: Invocation, error: BaseException) -> None:
        if inv.error_type is None:
            inv.error_type = error_type_of(error)
        self._finish(inv, error)

    def _finish(self, inv: Invocation, error: BaseException | None) -> None:
        if inv.ended:
            return
        inv.ended = True
        self.deactivate(inv)
        if inv.owner is not None:
            if error is None:
                ownership.merge(inv, inv.owner)
            return
        span = inv.span
        if span is None:
            return
        end_ns = time.perf_counter_ns()
        request_fields, response_fields, content_fields = tables(type(inv))
        attributes = _read(inv, response_fields)
        if inv.owns_client_calls:  # a merged client call or the response told us more after the start
            attributes.update(_read(inv, request_fields))
            attributes[inv.OPERATION_ATTRIBUTE] = inv.operation
            name = span_name(inv)
            if getattr(span, "name", name) != name:  # e.g. the model, which Haystack names only in replies
                span.update_name(name)
        ttfc = getattr(inv, "first_chunk_ns", 0)
        if ttfc:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (ttfc - inv.start_ns) / 1e9
        if inv.response_attributes:
            attributes.update(coerce_extra(inv.response_attributes))
        content_attributes = self._content(inv, content_fields) if self._capture_content else {}
        if self._content_on_span:
            attributes.update(content_attributes)
        if error is not None:
            record_error(span, error, with_content=self._content_on_span)
        elif inv.error_type is not None:
            span.set_status(Status(StatusCode.ERROR, inv.error_type))
        if self._aliases:
            self._alias(attributes)
        if attributes:  # the SDK takes its lock and a cleaning pass even for an empty mapping
            span.set_attributes(attributes)
        if self._emits_event:
            safely("events", self._events.emit, inv, content_attributes)
        span.end()
        # Inline rather than through ``safely``: this runs once per call (same catch-and-log-once).
        try:
            self._record_metrics(inv, end_ns, span)
        except Exception:
            report_internal_error("metrics")

    def _content(self, inv: Invocation, fields: Fields) -> dict[str, Any]:
        """The content attributes of ``inv`` (its ``content_attr`` fields), serialised and size-limited
        (or uploaded, leaving a reference: :mod:`.upload`): written to the span and/or the event by the
        content-capture settings."""
        values = ((attribute, getattr(inv, field_name)) for field_name, attribute in fields)
        return content.attributes(values, self.settings.max_content_length, self._upload, inv.span)

    def _record_metrics(self, inv: Invocation, end_ns: int, span: trace.Span) -> None:
        # The points are recorded in the context of the call's own span, ended but still the one an
        # exemplar must point at (the SDK samples exemplars from the context a point is recorded in; the
        # current context is the caller's by now).
        if isinstance(inv, VectorDbInvocation):
            self._db_metrics.record(inv, _read(inv, DB_POINT_FIELDS), end_ns, span)
            return
        self._metrics.record_finished(inv, end_ns, span)


_default_handler: TelemetryHandler | None = None


def default_handler() -> TelemetryHandler:
    """The handler behind the public agent/tool API: the one :func:`genai_otel.instrument` set up, or
    one on the global providers."""
    handler = _default_handler
    return handler if handler is not None else _settle_default_handler(None)


def set_default_handler(handler: TelemetryHandler | None) -> None:
    """Make ``handler`` the default in place of any, set up or pending (``None``: forget the default)."""
    global _default_handler
    with _default.lock:
        _default.take()
        _default_handler = handler


def adopt_default_handler(handler: TelemetryHandler) -> None:
    """Make ``handler`` (an instrumentor's) the default when none is set: the zero-code path.

    After :func:`genai_otel.instrument`, the default is the handler on the providers it was given: the
    first instrumentor to load builds it here, as the telemetry core is loaded now anyway.
    """
    _settle_default_handler(handler)


def release_default_handler(handler: TelemetryHandler | None) -> None:
    """Forget ``handler`` as the default (its instrumentor was uninstrumented)."""
    global _default_handler
    with _default.lock:
        if handler is not None and _default_handler is handler:
            _default_handler = None


def _settle_default_handler(candidate: TelemetryHandler | None) -> TelemetryHandler:
    """The default handler, set now if none is: the one on what :func:`genai_otel.instrument` gave (built
    now: instrument() defers it, see :mod:`genai_otel._default`), else ``candidate``, else one on the
    global providers."""
    global _default_handler
    with _default.lock:
        if _default_handler is None:
            arguments = _default.take()
            if arguments is not None:
                # A provider that fails here is our problem to report, not the app's: the agent/tool
                # API then falls back to the candidate or a handler on the global providers.
                _default_handler = safely(
                    "instrument",
                    TelemetryHandler,
                    arguments.tracer_provider,
                    arguments.meter_provider,
                    arguments.logger_provider,
                    settings=arguments.settings,
                )
        if _default_handler is None:
            _default_handler = candidate or TelemetryHandler()
        return _default_handler
