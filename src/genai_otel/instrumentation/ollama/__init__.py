"""Ollama (``ollama`` Python client): ``chat``, ``generate``, ``embed`` (and the deprecated ``embeddings``
that older integrations still call), sync and async,
``stream=True`` (NDJSON), tool calls; token counts from ``prompt_eval_count`` / ``eval_count``."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper
from genai_otel.instrumentation.ollama._mapping import (
    StreamAccumulator,
    build_chat,
    build_embed,
    build_generate,
    chat_result,
    embed_result,
    generate_result,
)


class OllamaInstrumentor(GenAIInstrumentor):
    """Instruments the ``ollama`` Python client."""

    dependencies = ("ollama >= 0.4",)

    def patches(self) -> Iterable[Patch]:
        specs = {
            "chat": CallSpec("ollama.chat", build_chat, chat_result, StreamAccumulator),
            "generate": CallSpec("ollama.generate", build_generate, generate_result, StreamAccumulator),
            "embed": CallSpec("ollama.embed", build_embed, embed_result),
            "embeddings": CallSpec("ollama.embeddings", build_embed, embed_result),
        }
        for method, spec in specs.items():
            for cls, wrapper in (("Client", sync_wrapper), ("AsyncClient", async_wrapper)):
                yield Patch("ollama._client", f"{cls}.{method}", functools.partial(wrapper, spec=spec))
