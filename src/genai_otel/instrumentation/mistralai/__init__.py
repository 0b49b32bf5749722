"""Mistral AI (``mistralai`` SDK 1.x+): ``chat.complete`` / ``chat.stream`` (sync and async, tool
calls) and ``embeddings.create``.

mistralai 3.x emits its own GenAI spans when a TracerProvider is set; while genai-otel owns a call
the SDK's span for it is suppressed, so there is one span per model call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import (
    SDK_SPAN_SUPPRESSED,
    CallSpec,
    GenAIInstrumentor,
    Patch,
    async_wrapper,
    sdk_span_suppressed,
    sync_wrapper,
)
from genai_otel.instrumentation.mistralai._mapping import _stream_accumulator, build_chat, build_embeddings

_CHAT = "mistralai.client.chat"
_EMBEDDINGS = "mistralai.client.embeddings"


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
