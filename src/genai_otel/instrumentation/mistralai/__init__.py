"""Mistral AI (``mistralai`` SDK 1.x+): ``chat.complete`` / ``chat.stream`` (sync and async, tool
calls) and ``embeddings.create``.

mistralai 3.x emits its own GenAI spans when a TracerProvider is set; while genai-otel owns a call
the SDK's span for it is suppressed, so there is one span per model call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._base import (
    SDK_SPAN_SUPPRESSED,
    CallSpec,
    GenAIInstrumentor,
    Patch,
    async_wrapper,
    sdk_span_suppressed,
    sync_wrapper,
)
from genai_otel.instrumentation._util import arg, server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler

PROVIDER = "mistral_ai"
_CHAT = "mistralai.client.chat"
_EMBEDDINGS = "mistralai.client.embeddings"


def _server(resource: Any) -> tuple[str | None, int | None]:
    config = getattr(resource, "sdk_configuration", None)
    try:
        url, _ = config.get_server_details()
    except Exception:
        return None, None
    return server_of_url(url)


def build_chat(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict, stream: bool = False
) -> InferenceInvocation:
    from genai_otel.instrumentation import _openai_compatible as m

    host, port = _server(resource)
    inv = m.compatible_request(
        kwargs, semconv.OPERATION_CHAT, PROVIDER, host, port, arg(kwargs, "max_tokens")
    )
    inv.seed = arg(kwargs, "random_seed")
    inv.stream = True if stream else None
    m.chat_request_details(handler, inv, kwargs)
    return inv


def build_embeddings(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict
) -> EmbeddingsInvocation:
    from genai_otel.instrumentation._openai_compatible import embeddings_request

    host, port = _server(resource)
    return embeddings_request(kwargs, PROVIDER, host, port, "output_dtype", "output_dimension")


def _stream_accumulator(inv: InferenceInvocation) -> Any:
    from genai_otel.instrumentation._openai_compatible import ChatStreamAccumulator

    class MistralStreamAccumulator(ChatStreamAccumulator):
        """Mistral stream events wrap each OpenAI-shaped chunk in ``.data``."""

        def feed(self, event: Any) -> None:
            super().feed(getattr(event, "data", event))

    return MistralStreamAccumulator(inv)


def _untraced_by_sdk(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """The SDK's hook creates its own span here: not for calls genai-otel already traces."""
    if SDK_SPAN_SUPPRESSED.get():
        kwargs = {**kwargs, "tracing_enabled": False}
    return wrapped(*args, **kwargs)


def _specs() -> tuple[CallSpec, CallSpec, CallSpec]:
    from genai_otel.instrumentation import _openai_compatible as m

    complete = CallSpec("mistralai.chat", build_chat, m.chat_result, around=sdk_span_suppressed)
    stream = CallSpec(
        "mistralai.chat.stream",
        functools.partial(build_chat, stream=True),
        m.chat_result,
        _stream_accumulator,
        is_stream=lambda kwargs, result: True,
        around=sdk_span_suppressed,
    )
    embeddings = CallSpec(
        "mistralai.embeddings", build_embeddings, m.embeddings_result, around=sdk_span_suppressed
    )
    return complete, stream, embeddings


class MistralInstrumentor(GenAIInstrumentor):
    """Instruments the ``mistralai`` Python SDK."""

    dependencies = ("mistralai >= 1.0",)

    def patches(self) -> Iterable[Patch]:
        complete, stream, embeddings = _specs()
        for module, method, spec in (
            (_CHAT, "Chat.complete", complete),
            (_CHAT, "Chat.stream", stream),
            (_EMBEDDINGS, "Embeddings.create", embeddings),
        ):
            yield Patch(module, method, functools.partial(sync_wrapper, spec=spec))
            yield Patch(module, f"{method}_async", functools.partial(async_wrapper, spec=spec))
        yield Patch(
            "mistralai.client._hooks.tracing", "get_traced_request_and_span", lambda h: _untraced_by_sdk
        )
