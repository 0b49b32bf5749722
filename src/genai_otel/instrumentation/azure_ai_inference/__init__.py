"""Azure AI Inference (``azure-ai-inference``): ``ChatCompletionsClient.complete`` (sync and async,
``stream=True``, tool calls) and ``EmbeddingsClient.embed``.

Request settings given to the client's constructor (``model``, ``temperature``, ...) apply when a
call does not override them, so they are read from both.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper
from genai_otel.instrumentation.azure_ai_inference._mapping import build_chat, build_embeddings


def _specs() -> tuple[CallSpec, CallSpec]:
    from genai_otel.instrumentation import _openai_compatible as m

    chat = CallSpec(
        "azure_ai_inference.chat",
        build_chat,
        m.chat_result,
        m.ChatStreamAccumulator,
        is_stream=lambda kwargs, result: bool(kwargs.get("stream")),
    )
    return chat, CallSpec("azure_ai_inference.embeddings", build_embeddings, m.embeddings_result)


class AzureAIInferenceInstrumentor(GenAIInstrumentor):
    """Instruments the ``azure-ai-inference`` Python SDK."""

    dependencies = ("azure-ai-inference >= 1.0.0b1",)

    def patches(self) -> Iterable[Patch]:
        chat, embeddings = _specs()
        for module, wrapper in (
            ("azure.ai.inference._patch", sync_wrapper),
            ("azure.ai.inference.aio._patch", async_wrapper),
        ):
            yield Patch(module, "ChatCompletionsClient.complete", functools.partial(wrapper, spec=chat))
            yield Patch(module, "EmbeddingsClient.embed", functools.partial(wrapper, spec=embeddings))
