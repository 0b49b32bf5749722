"""OpenAI instrumentation: chat completions, Responses API, embeddings and legacy completions;
sync and async; ``stream=True`` and the SDK's ``.stream()`` helpers; OpenAI and Azure OpenAI.

    from genai_otel.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper
from genai_otel.telemetry.streams import finish_stream

_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses"


def _specs() -> dict[str, CallSpec]:
    # Imported lazily: importing this module must not import the openai SDK.
    from genai_otel.instrumentation import _openai_compatible as c
    from genai_otel.instrumentation.openai import _mapping as m

    return {
        "chat": CallSpec("openai.chat", c.build_chat, c.chat_result, c.ChatStreamAccumulator),
        "completions": CallSpec(
            "openai.completions", m.build_completion, m.completion_result, m.CompletionStreamAccumulator
        ),
        "responses": CallSpec(
            "openai.responses", m.build_response, m.response_result, m.ResponseStreamAccumulator
        ),
        "embeddings": CallSpec("openai.embeddings", c.build_embeddings, c.embeddings_result),
    }


def _close_helper_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """The SDK's stream helpers close the HTTP response, not the stream we returned: end our span too."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        finish_stream(getattr(instance, "_raw_stream", None))


async def _aclose_helper_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        finish_stream(getattr(instance, "_raw_stream", None))


class OpenAIInstrumentor(GenAIInstrumentor):
    """Instruments the ``openai`` Python SDK (1.40+, including 3.x on httpx2)."""

    dependencies = ("openai >= 1.40",)

    def patches(self) -> Iterable[Patch]:
        specs = _specs()

        def sync(spec: CallSpec):
            return lambda handler: sync_wrapper(handler, spec)

        def asynchronous(spec: CallSpec):
            return lambda handler: async_wrapper(handler, spec)

        targets = [
            (_CHAT, "Completions", ("create", "parse"), specs["chat"]),
            (_RESPONSES, "Responses", ("create", "parse"), specs["responses"]),
            ("openai.resources.embeddings", "Embeddings", ("create",), specs["embeddings"]),
            ("openai.resources.completions", "Completions", ("create",), specs["completions"]),
        ]
        for module, cls, methods, spec in targets:
            for method in methods:
                yield Patch(module, f"{cls}.{method}", sync(spec))
                yield Patch(module, f"Async{cls}.{method}", asynchronous(spec))
        for module, cls in (
            ("openai.lib.streaming.chat", "ChatCompletionStream"),
            ("openai.lib.streaming.responses", "ResponseStream"),
        ):
            yield Patch(module, f"{cls}.close", lambda handler: _close_helper_stream)
            yield Patch(module, f"Async{cls}.close", lambda handler: _aclose_helper_stream)
