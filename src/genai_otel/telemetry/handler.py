"""The one place where invocation records become spans, metrics and events."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry._logs import get_logger
from opentelemetry.metrics import get_meter
from opentelemetry.trace import Status, StatusCode

from genai_otel import propagation, semconv
from genai_otel.config import Settings
from genai_otel.safety import safely
from genai_otel.telemetry import content
from genai_otel.telemetry.invocation import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    Invocation,
    RetrievalInvocation,
    ToolInvocation,
    VectorDbInvocation,
    error_type_of,
    record_error,
)
from genai_otel.telemetry.messaging import MessagingTelemetry
from genai_otel.telemetry.metrics import DbMetricRecorder, MetricRecorder
from genai_otel.version import __version__

# (record field, attribute) pairs, per record type. The handler walks the record's MRO, so a
# subclass inherits its parents' mappings.
_REQUEST_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    Invocation: (
        ("provider", semconv.GEN_AI_PROVIDER_NAME),
        ("request_model", semconv.GEN_AI_REQUEST_MODEL),
        ("server_address", semconv.SERVER_ADDRESS),
        ("server_port", semconv.SERVER_PORT),
        ("conversation_id", semconv.GEN_AI_CONVERSATION_ID),
    ),
    InferenceInvocation: (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
        ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
        ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
        ("stop_sequences", semconv.GEN_AI_REQUEST_STOP_SEQUENCES),
        ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
        ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
        ("seed", semconv.GEN_AI_REQUEST_SEED),
        ("stream", semconv.GEN_AI_REQUEST_STREAM),
        ("output_type", semconv.GEN_AI_OUTPUT_TYPE),
    ),
    EmbeddingsInvocation: (("encoding_formats", semconv.GEN_AI_REQUEST_ENCODING_FORMATS),),
    RetrievalInvocation: (
        ("data_source_id", semconv.GEN_AI_DATA_SOURCE_ID),
        ("top_k", semconv.GEN_AI_RETRIEVAL_TOP_K),
    ),
    ToolInvocation: (
        ("tool_name", semconv.GEN_AI_TOOL_NAME),
        ("tool_call_id", semconv.GEN_AI_TOOL_CALL_ID),
        ("tool_type", semconv.GEN_AI_TOOL_TYPE),
        ("tool_description", semconv.GEN_AI_TOOL_DESCRIPTION),
    ),
    VectorDbInvocation: (
        ("system", semconv.DB_SYSTEM_NAME),
        ("collection", semconv.DB_COLLECTION_NAME),
        ("namespace", semconv.DB_NAMESPACE),
        ("top_k", semconv.GEN_AI_RETRIEVAL_TOP_K),
        ("batch_size", semconv.DB_OPERATION_BATCH_SIZE),
        ("vector_dimension", semconv.GENAI_OTEL_VECTOR_DIMENSION),
        ("filtered", semconv.GENAI_OTEL_VECTOR_FILTERED),
    ),
    AgentInvocation: (
        ("agent_id", semconv.GEN_AI_AGENT_ID),
        ("agent_name", semconv.GEN_AI_AGENT_NAME),
        ("agent_description", semconv.GEN_AI_AGENT_DESCRIPTION),
        ("agent_version", semconv.GEN_AI_AGENT_VERSION),
    ),
}
_RESPONSE_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    Invocation: (
        ("response_model", semconv.GEN_AI_RESPONSE_MODEL),
        ("input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
        ("error_type", semconv.ERROR_TYPE),
    ),
    InferenceInvocation: (
        ("response_id", semconv.GEN_AI_RESPONSE_ID),
        ("finish_reasons", semconv.GEN_AI_RESPONSE_FINISH_REASONS),
        ("output_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        ("cache_read_input_tokens", semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        ("cache_write_input_tokens", semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
        ("reasoning_output_tokens", semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ),
    EmbeddingsInvocation: (("dimension_count", semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),),
    VectorDbInvocation: (("returned_rows", semconv.DB_RESPONSE_RETURNED_ROWS),),
}
_CONTENT_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    InferenceInvocation: (
        ("input_messages", semconv.GEN_AI_INPUT_MESSAGES),
        ("output_messages", semconv.GEN_AI_OUTPUT_MESSAGES),
        ("system_instructions", semconv.GEN_AI_SYSTEM_INSTRUCTIONS),
        ("tool_definitions", semconv.GEN_AI_TOOL_DEFINITIONS),
    ),
    RetrievalInvocation: (
        ("query_text", semconv.GEN_AI_RETRIEVAL_QUERY_TEXT),
        ("documents", semconv.GEN_AI_RETRIEVAL_DOCUMENTS),
    ),
    VectorDbInvocation: (
        ("query_text", semconv.GEN_AI_RETRIEVAL_QUERY_TEXT),
        ("documents", semconv.GEN_AI_RETRIEVAL_DOCUMENTS),
    ),
    ToolInvocation: (
        ("arguments", semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
        ("result", semconv.GEN_AI_TOOL_CALL_RESULT),
    ),
}
# Operations whose span shape takes gen_ai.conversation.id (filled from baggage when the app set one).
_CONVERSATION_OPERATIONS = frozenset(
    op
    for shape in semconv.SPAN_SHAPES.values()
    if semconv.GEN_AI_CONVERSATION_ID in shape["attributes"] and "key" not in shape
    for op in shape["operations"]
)
_EVENT_NAME = semconv.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
_EVENT_ATTRIBUTES = tuple(semconv.EVENTS[_EVENT_NAME]["attributes"])


def _fields_for(table: dict[type, tuple[tuple[str, str], ...]], cls: type) -> tuple[tuple[str, str], ...]:
    return tuple(pair for base in reversed(cls.__mro__) for pair in table.get(base, ()))


_OPERATION_FIELD = (("operation", semconv.GEN_AI_OPERATION_NAME),)
# Metric point attributes (metrics.yaml point_attributes), read straight off the record so they
# are right even when the span is not recording.
_POINT_FIELDS = tuple(
    pair
    for pair in _OPERATION_FIELD
    + _fields_for(_REQUEST_FIELDS, Invocation)
    + _fields_for(_RESPONSE_FIELDS, Invocation)
    if pair[1] in semconv.METRIC_POINT_ATTRIBUTES
)
_DB_POINT_FIELDS = tuple(
    pair
    for pair in (
        ("operation", semconv.DB_OPERATION_NAME),
        *_fields_for(_REQUEST_FIELDS, VectorDbInvocation),
        *_fields_for(_RESPONSE_FIELDS, Invocation),
    )
    if pair[1] in semconv.DB_METRIC_POINT_ATTRIBUTES
)


_OWNER = otel_context.create_key("genai_otel.owning_invocation")
# A framework record whose model call runs later, outside the framework's own scope (a stream the
# caller iterates after the framework method returned): set, not attached, so it outlives that scope;
# only an open, unclaimed record is ever taken from it.
_PENDING_OWNER: ContextVar[Invocation | None] = ContextVar("genai_otel_pending_owner", default=None)
# What a client-level record knows better than the framework record that owns the call.
_MERGED_FIELDS = (
    "server_address",
    "server_port",
    "response_model",
    "response_id",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "reasoning_output_tokens",
    "finish_reasons",
    "dimension_count",
)


_SCOPE = otel_context.create_key("genai_otel.framework_scope")


class FrameworkScope:
    """Marks a context a framework run made current. Frameworks may end a run in another asyncio task
    than the one that started it; the starting task then still has the ended run's context attached,
    and :func:`live_context` steps over it to what was current before."""

    __slots__ = ("open", "parent", "span")

    def __init__(self, parent: otel_context.Context) -> None:
        self.parent = parent
        self.open = True
        self.span: Any = None

    def enter(self, ctx: otel_context.Context) -> otel_context.Context:
        self.span = trace.get_current_span(ctx)
        return otel_context.set_value(_SCOPE, self, ctx)


def live_context(ctx: otel_context.Context | None = None) -> otel_context.Context:
    """``ctx`` (default: the current context) without framework scopes that have ended. A scope is
    stepped over only while its run's span is still the current one: a span the application opened on
    top of it is the application's, and stays the parent of what comes next."""
    ctx = ctx if ctx is not None else otel_context.get_current()
    scope = otel_context.get_value(_SCOPE, ctx)
    while scope is not None and not scope.open and trace.get_current_span(ctx) is scope.span:
        ctx = scope.parent
        scope = otel_context.get_value(_SCOPE, ctx)
    return ctx


def _same_kind(owner: Invocation, inv: Invocation) -> bool:
    return (
        owner.is_inference == inv.is_inference
        and owner.operation != "retrieval"
        and (owner.is_inference or owner.operation == inv.operation)
    )


def _span_name(inv: Invocation) -> str:
    target = inv.span_target
    return f"{inv.operation} {target}" if target else inv.operation


def _merge(inv: Invocation, owner: Invocation) -> None:
    # Frameworks that do not know the model (or provider) before the call learn it from the client.
    if owner.request_model is None:
        owner.request_model = inv.request_model
    if owner.provider is None or ("provider" in owner.guessed and inv.provider is not None):
        owner.provider = inv.provider
    if "operation" in owner.guessed and inv.is_inference:
        owner.operation = inv.operation  # e.g. a custom LLM's complete() that makes a chat call
    if getattr(inv, "stream", None) and not getattr(owner, "first_chunk_ns", 0):
        # The framework did not see the stream (it consumed it inside one call): the client's timing.
        owner.stream = True
        owner.first_chunk_ns, owner.last_chunk_ns = inv.first_chunk_ns, inv.last_chunk_ns
        owner.chunk_count = inv.chunk_count
    for name in _MERGED_FIELDS:
        value = getattr(inv, name, None)
        if value is not None and hasattr(owner, name):
            setattr(owner, name, value)
    owner.response_attributes.update(inv.response_attributes)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _as_strings(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


_COERCERS: dict[str, tuple[type, Any]] = {
    "int": (int, _as_int),
    "double": (float, _as_float),
    "string": (str, lambda v: v if isinstance(v, str) else None),
    "boolean": (bool, lambda v: v if isinstance(v, bool) else None),
    "string[]": (list, _as_strings),
}
# attribute -> (the Python type its declared type takes, the coercer): computed once from
# conventions/attributes.yaml (via semconv). Attributes of type ``any`` or unknown are not checked.
_ATTRIBUTE_TYPES: dict[str, tuple[type, Any]] = {
    name: _COERCERS[spec["type"]]
    for name, spec in semconv.ATTRIBUTES.items()
    if spec.get("type") in _COERCERS
}
_logger = logging.getLogger(__name__)


def coerce(attribute: str, value: Any) -> Any:
    """``value`` as the type the conventions declare for ``attribute`` (an int from ``"12"``, a float
    from ``3``), or ``None`` when it cannot be one (a garbage provider response): then it is skipped."""
    declared = _ATTRIBUTE_TYPES.get(attribute)
    if declared is None:
        return value
    kind, convert = declared
    if type(value) is kind and kind is not list:  # the common case: already right
        return value
    converted = convert(value)
    if converted is None:
        _logger.debug("genai-otel: %s=%r is not a valid %s; skipped", attribute, value, kind.__name__)
    return converted


def _read(inv: Invocation, fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out = {}
    for field_name, attribute in fields:
        value = getattr(inv, field_name)
        if value is None:
            continue
        declared = _ATTRIBUTE_TYPES.get(attribute)
        if declared is not None and (type(value) is not declared[0] or declared[0] is list):
            fixed = coerce(attribute, value)
            if fixed is not value:
                setattr(inv, field_name, fixed)  # metrics read the record: they get the checked value
            if fixed is None:
                continue
            value = fixed
        out[attribute] = value
    return out


def _coerce_extra(attributes: dict[str, Any]) -> dict[str, Any]:
    """Provider-specific attributes (``inv.attributes`` / ``response_attributes``) checked the same way."""
    if all(
        k not in _ATTRIBUTE_TYPES or (type(v) is _ATTRIBUTE_TYPES[k][0] and not isinstance(v, list))
        for k, v in attributes.items()
    ):
        return attributes
    checked = {k: coerce(k, v) for k, v in attributes.items()}
    return {k: v for k, v in checked.items() if v is not None}


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
        self._tracer = trace.get_tracer("genai_otel", __version__, tracer_provider=tracer_provider)
        meter = get_meter("genai_otel", __version__, meter_provider=meter_provider)
        self._metrics = MetricRecorder(meter, self.settings.profiles)
        self._db_metrics = DbMetricRecorder(meter)
        self._events = get_logger("genai_otel", __version__, logger_provider=logger_provider)
        self._aliases = {
            new: old
            for profile in self.settings.profiles
            for new, old in semconv.METRIC_PROFILES[profile]["span_aliases"].items()
        }
        self._field_cache: dict[type, tuple[tuple[tuple[str, str], ...], ...]] = {}
        self.messaging = MessagingTelemetry(self._tracer)

    @property
    def tracer(self) -> trace.Tracer:
        return self._tracer

    @property
    def capture_content(self) -> bool:
        """Whether instrumentors should collect message content at all (any capture mode but NO_CONTENT)."""
        return self.settings.content_capture.on_span or self.settings.content_capture.on_event

    def _fields(self, cls: type) -> tuple[tuple[tuple[str, str], ...], ...]:
        cached = self._field_cache.get(cls)
        if cached is None:
            cached = tuple(_fields_for(t, cls) for t in (_REQUEST_FIELDS, _RESPONSE_FIELDS, _CONTENT_FIELDS))
            self._field_cache[cls] = cached
        return cached

    def _alias(self, attributes: dict[str, Any]) -> dict[str, Any]:
        for new, old in self._aliases.items():
            if new in attributes:
                attributes[old] = attributes[new]
        return attributes

    # -- lifecycle ---------------------------------------------------------------------------

    def start(
        self, inv: Invocation, *, activate: bool = True, context: otel_context.Context | None = None
    ) -> Invocation:
        context = live_context(context)
        owner = otel_context.get_value(_OWNER, context) or _PENDING_OWNER.get()
        if owner is not None and not owner.claimed and not owner.ended and _same_kind(owner, inv):
            # One model call, one span: the framework's span owns it; this record merges into it.
            owner.claimed = True
            inv.owner = owner
            inv.start_ns = time.perf_counter_ns()
            return inv
        entries = baggage.get_all(context)
        if entries:
            self._from_baggage(inv, entries)
        request_fields = self._fields(type(inv))[0]
        attributes = {inv.OPERATION_ATTRIBUTE: inv.operation, **_read(inv, request_fields)}
        choice_count = getattr(inv, "choice_count", None)
        if choice_count is not None and choice_count != 1:
            attributes[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = choice_count
        if inv.attributes:
            attributes.update(_coerce_extra(inv.attributes))
        name = _span_name(inv)
        inv.start_ns = time.perf_counter_ns()
        inv.span = self._tracer.start_span(
            name, context=context, kind=inv.kind, attributes=self._alias(attributes)
        )
        if activate:
            inv.context_token = otel_context.attach(self.context_for(inv))
        return inv

    @staticmethod
    def context_for(inv: Invocation, base: otel_context.Context | None = None) -> otel_context.Context:
        """The context in which work belonging to ``inv`` runs: its span is the parent, and a
        client call made there merges into ``inv`` when it owns client calls."""
        ctx = trace.set_span_in_context(inv.span, base) if inv.span is not None else base
        if inv.owns_client_calls:
            ctx = otel_context.set_value(_OWNER, inv, ctx)
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
        known = dict(self._fields(type(inv))[0])
        attributes = {known[n]: v for n, v in values.items() if n in known and v is not None}
        if attributes:
            inv.span.set_attributes(self._alias(attributes))

    @staticmethod
    def expect_client_call(inv: Invocation) -> None:
        """``inv`` owns the next client call made in this context even after its scope was left
        (streams consumed later); a claimed or ended record is ignored."""
        if inv.owns_client_calls and not inv.claimed:
            _PENDING_OWNER.set(inv)

    @staticmethod
    def _from_baggage(inv: Invocation, entries: Any) -> None:
        """What agents upstream (here or in another service) put in baggage for the spans below."""
        conversation = entries.get(semconv.GEN_AI_CONVERSATION_ID)
        if inv.conversation_id is None and conversation and inv.operation in _CONVERSATION_OPERATIONS:
            inv.conversation_id = str(conversation)
        limit = entries.get(semconv.GENAI_OTEL_LOOP_GUARD_LIMIT)
        if limit:
            inv.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] = str(limit)

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
                _merge(inv, inv.owner)
            return
        span = inv.span
        if span is None:
            return
        end_ns = time.perf_counter_ns()
        request_fields, response_fields, content_fields = self._fields(type(inv))
        attributes = _read(inv, response_fields)
        if inv.owns_client_calls:  # a merged client call or the response told us more after the start
            attributes.update(_read(inv, request_fields))
            attributes[inv.OPERATION_ATTRIBUTE] = inv.operation
            name = _span_name(inv)
            if getattr(span, "name", name) != name:  # e.g. the model, which Haystack names only in replies
                span.update_name(name)
        ttfc = getattr(inv, "first_chunk_ns", 0)
        if ttfc:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (ttfc - inv.start_ns) / 1e9
        if inv.response_attributes:
            attributes.update(_coerce_extra(inv.response_attributes))
        content_attributes = self._content(inv, content_fields) if self.capture_content else {}
        if self.settings.content_capture.on_span:
            attributes.update(content_attributes)
        if error is not None:
            record_error(span, error, with_content=self.settings.content_capture.on_span)
        elif inv.error_type is not None:
            span.set_status(Status(StatusCode.ERROR, inv.error_type))
        span.set_attributes(self._alias(attributes))
        safely("events", self._emit_event, inv, content_attributes)
        span.end()
        safely("metrics", self._record_metrics, inv, end_ns)

    def _content(self, inv: Invocation, fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        truncated = []
        limit = self.settings.max_content_length
        for field_name, attribute in fields:
            value = getattr(inv, field_name)
            if value is None:
                continue
            text, was_cut = content.serialize(value, limit)
            out[attribute] = text
            if was_cut:
                truncated.append(attribute)
        if truncated:
            out[semconv.GENAI_OTEL_CONTENT_TRUNCATED] = truncated
        return out

    def _record_metrics(self, inv: Invocation, end_ns: int) -> None:
        if isinstance(inv, VectorDbInvocation):
            self._db_metrics.record(inv, _read(inv, _DB_POINT_FIELDS), end_ns)
            return
        self._metrics.record(inv, _read(inv, _POINT_FIELDS), end_ns)

    def _emit_event(self, inv: Invocation, content_attributes: dict[str, Any]) -> None:
        if not (self.settings.emits_event and inv.is_inference):
            return
        request_fields, response_fields, _ = self._fields(type(inv))
        attributes = {
            key: value
            for key, value in _read(inv, _OPERATION_FIELD + request_fields + response_fields).items()
            if key in _EVENT_ATTRIBUTES
        }
        if self.settings.content_capture.on_event:
            attributes.update(content_attributes)
        self._events.emit(
            event_name=_EVENT_NAME,
            attributes=attributes,
            context=trace.set_span_in_context(inv.span),
        )


_default_handler: TelemetryHandler | None = None


def default_handler() -> TelemetryHandler:
    """The handler behind the public agent/tool API: the one :func:`genai_otel.instrument` set up, or
    one on the global providers."""
    global _default_handler
    if _default_handler is None:
        _default_handler = TelemetryHandler()
    return _default_handler


def set_default_handler(handler: TelemetryHandler | None) -> None:
    global _default_handler
    _default_handler = handler


def adopt_default_handler(handler: TelemetryHandler) -> None:
    """Make ``handler`` (an instrumentor's) the default when none is set: the zero-code path."""
    global _default_handler
    if _default_handler is None:
        _default_handler = handler


def release_default_handler(handler: TelemetryHandler | None) -> None:
    """Forget ``handler`` as the default (its instrumentor was uninstrumented)."""
    global _default_handler
    if handler is not None and _default_handler is handler:
        _default_handler = None
