"""Groq (``groq`` SDK): chat completions (sync, async, ``stream=True``, tool calls) and embeddings.

The Groq SDK mirrors the OpenAI SDK's shapes, so the OpenAI mapping serves it with
``gen_ai.provider.name = groq``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper

PROVIDER = "groq"


def stainless_patches(package: str, provider: str, name: str) -> Iterable[Patch]:
    """Chat-completion and embeddings patches for an OpenAI-shaped (Stainless-generated) SDK."""
    from genai_otel.instrumentation import _openai_compatible as m

    chat = CallSpec(
        f"{name}.chat",
        functools.partial(m.build_chat, provider=provider),
        m.chat_result,
        m.ChatStreamAccumulator,
    )
    embeddings = CallSpec(
        f"{name}.embeddings", functools.partial(m.build_embeddings, provider=provider), m.embeddings_result
    )
    for module, cls, spec in (
        (f"{package}.resources.chat.completions", "Completions", chat),
        (f"{package}.resources.embeddings", "Embeddings", embeddings),
    ):
        yield Patch(module, f"{cls}.create", functools.partial(sync_wrapper, spec=spec))
        yield Patch(module, f"Async{cls}.create", functools.partial(async_wrapper, spec=spec))


class GroqInstrumentor(GenAIInstrumentor):
    """Instruments the ``groq`` Python SDK."""

    dependencies = ("groq >= 0.9",)

    def patches(self) -> Iterable[Patch]:
        return stainless_patches("groq", PROVIDER, "groq")
