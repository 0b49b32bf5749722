"""A2A (a2a-sdk): CLIENT and SERVER spans named after the A2A method, per the GenAI A2A conventions.

Trace context and agent baggage cross the hop through the transport's own instrumentation (the
contrib httpx client and Starlette/FastAPI server instrumentations for JSON-RPC and REST, the gRPC
interceptors for gRPC), all under genai-otel's propagator. On top, genai-otel records what the A2A
conventions ask for: ``a2a.method.name``, message and task ids, the task state, the ``contextId``
as ``gen_ai.conversation.id``, and the agent card's name, description, version and address.

The SDK's own per-method spans can be switched off with ``OTEL_INSTRUMENTATION_A2A_SDK_ENABLED=false``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from genai_otel import semconv
from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.safety import safely
from genai_otel.telemetry import TelemetryHandler, mark_failed
from genai_otel.telemetry.scoped import drive_async

# (client method, server method, A2A method name, streams?)
_METHODS = (
    ("send_message", "on_message_send", "SendMessage", False),
    (None, "on_message_send_stream", "SendStreamingMessage", True),
    ("get_task", "on_get_task", "GetTask", False),
    ("list_tasks", "on_list_tasks", "ListTasks", False),
    ("cancel_task", "on_cancel_task", "CancelTask", False),
    ("subscribe", "on_subscribe_to_task", "SubscribeToTask", True),
)
_SERVER_HANDLERS = (
    ("a2a.server.request_handlers.default_request_handler_v2", "DefaultRequestHandlerV2"),
    ("a2a.server.request_handlers.default_request_handler", "DefaultRequestHandler"),
)


def _child(message: Any, name: str) -> Any:
    """A set sub-message of a protobuf message, or None."""
    try:
        return getattr(message, name) if message.HasField(name) else None
    except (AttributeError, ValueError):
        return None


def _state_name(status: Any) -> str | None:
    if status is None:
        return None
    try:
        return type(status).DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[status.state].name
    except (AttributeError, KeyError):
        return None


def _set(span: Span, key: str, value: Any) -> None:
    if value not in (None, "", [], ()):
        span.set_attribute(key, value)


def _card_attributes(span: Span, card: Any) -> None:
    if card is None:
        return
    _set(span, semconv.GEN_AI_AGENT_NAME, getattr(card, "name", None))
    _set(span, semconv.GEN_AI_AGENT_DESCRIPTION, getattr(card, "description", None))
    _set(span, semconv.GEN_AI_AGENT_VERSION, getattr(card, "version", None))


def _server_of(card: Any) -> tuple[str | None, int | None]:
    interfaces = list(getattr(card, "supported_interfaces", None) or ())
    if not interfaces:
        return None, None
    url = urlsplit(interfaces[0].url)
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


def _request_attributes(span: Span, request: Any) -> None:
    message = _child(request, "message")
    if message is not None:
        _set(span, semconv.A2A_MESSAGE_ID, message.message_id)
        _set(span, semconv.A2A_TASK_ID, message.task_id)
        _set(span, semconv.GEN_AI_CONVERSATION_ID, message.context_id)
        _set(span, semconv.A2A_MESSAGE_REFERENCE_TASK_IDS, list(message.reference_task_ids))
    elif getattr(request, "id", None) and isinstance(request.id, str):
        _set(span, semconv.A2A_TASK_ID, request.id)
    elif getattr(request, "task_id", None):
        _set(span, semconv.A2A_TASK_ID, request.task_id)
    _set(span, semconv.A2A_TENANT, getattr(request, "tenant", None))


def _observe(span: Span, item: Any) -> None:
    """Copy task/context ids and state off a result or stream event (client StreamResponse or
    server Task / Message / TaskStatusUpdateEvent)."""
    for field in ("task", "message", "status_update", "artifact_update"):
        inner = _child(item, field)
        if inner is not None:
            item = inner
            break
    kind = type(item).__name__
    if kind == "Task":
        _set(span, semconv.A2A_TASK_ID, item.id)
        _set(span, semconv.A2A_TASK_STATE, _state_name(_child(item, "status")))
    elif kind in ("TaskStatusUpdateEvent", "TaskArtifactUpdateEvent"):
        _set(span, semconv.A2A_TASK_ID, item.task_id)
        _set(span, semconv.A2A_TASK_STATE, _state_name(_child(item, "status")))
    _set(span, semconv.GEN_AI_CONVERSATION_ID, getattr(item, "context_id", None))


class _Call:
    """One A2A span: open with request attributes, observe results, end once."""

    def __init__(
        self, handler: TelemetryHandler, method: str, kind: SpanKind, card: Any, request: Any
    ) -> None:
        self.span = handler.tracer.start_span(method, kind=kind, attributes={semconv.A2A_METHOD_NAME: method})
        _card_attributes(self.span, card)
        if kind is SpanKind.CLIENT:
            host, port = _server_of(card)
            if host:
                self.span.set_attributes({semconv.SERVER_ADDRESS: host, semconv.SERVER_PORT: port})
        if request is not None:
            safely("a2a", _request_attributes, self.span, request)
        self.context = trace.set_span_in_context(self.span)

    def observe(self, item: Any) -> None:
        safely("a2a", _observe, self.span, item)

    def finish(self, error: BaseException | None) -> None:
        if error is not None:
            mark_failed(self.span, error)
        self.span.end()


def _client_card(instance: Any) -> Any:
    return getattr(instance, "_card", None)


def _server_card(instance: Any) -> Any:
    return getattr(instance, "_agent_card", None)


def _streaming_method(instance: Any, method: str) -> str:
    if method != "SendMessage":
        return method
    config, card = getattr(instance, "_config", None), _client_card(instance)
    streaming = getattr(config, "streaming", False) and getattr(
        getattr(card, "capabilities", None), "streaming", False
    )
    return "SendStreamingMessage" if streaming else method


def _wrapper(method: str, kind: SpanKind, streams: bool, card_of: Any) -> Any:
    def factory(handler: TelemetryHandler) -> Any:
        def open_call(instance: Any, args: tuple, kwargs: dict) -> _Call | None:
            name = _streaming_method(instance, method) if kind is SpanKind.CLIENT else method
            request = args[0] if args else next(iter(kwargs.values()), None)
            return safely("a2a", _Call, handler, name, kind, card_of(instance), request)

        if streams:

            def gen_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
                call = open_call(instance, args, kwargs)
                if call is None:
                    return wrapped(*args, **kwargs)
                return drive_async(wrapped(*args, **kwargs), call.context, call.finish, call.observe)

            return gen_wrapper

        async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            call = open_call(instance, args, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = otel_context.attach(call.context)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                call.finish(error)
                raise
            finally:
                otel_context.detach(token)
            call.observe(result)
            call.finish(None)
            return result

        return wrapper

    return factory


class A2AInstrumentor(GenAIInstrumentor):
    """A2A client and server spans for the a2a-sdk."""

    dependencies = ("a2a-sdk >= 1.0",)

    def patches(self) -> Iterable[Patch]:
        for client_method, server_method, name, streams in _METHODS:
            if client_method is not None:
                # BaseClient.send_message is an async generator whichever A2A method it uses.
                client_streams = streams or client_method == "send_message"
                yield Patch(
                    "a2a.client.base_client",
                    f"BaseClient.{client_method}",
                    _wrapper(name, SpanKind.CLIENT, client_streams, _client_card),
                )
            for module, cls in _SERVER_HANDLERS:
                yield Patch(
                    module, f"{cls}.{server_method}", _wrapper(name, SpanKind.SERVER, streams, _server_card)
                )
