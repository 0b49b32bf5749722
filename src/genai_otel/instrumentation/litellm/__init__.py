"""LiteLLM: ``litellm.completion`` / ``acompletion`` (``stream=True`` too) and ``embedding`` /
``aembedding``, with ``gen_ai.provider.name`` mapped from LiteLLM's provider (``openai/...`` ->
``openai``, ``bedrock/...`` -> ``aws.bedrock``, ...).

One span per model call: LiteLLM calls the provider's SDK (openai, anthropic, ...) underneath; when
that SDK is instrumented too, its call merges its exact details (tokens, response id and model,
server) into the LiteLLM span instead of opening a second one. Patches the ``litellm`` package's
functions: call them as ``litellm.completion(...)`` (a name imported before ``instrument()`` keeps
the original).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper
from genai_otel.instrumentation.litellm._mapping import build_completion, build_embedding


class LiteLLMInstrumentor(GenAIInstrumentor):
    """Instruments ``litellm``'s completion and embedding functions."""

    dependencies = ("litellm >= 1.40",)

    def patches(self) -> Iterable[Patch]:
        from genai_otel.instrumentation import _openai_compatible as m

        completion = CallSpec("litellm.completion", build_completion, m.chat_result, m.ChatStreamAccumulator)
        embedding = CallSpec("litellm.embedding", build_embedding, m.embeddings_result)
        yield Patch("litellm", "completion", functools.partial(sync_wrapper, spec=completion))
        yield Patch("litellm", "acompletion", functools.partial(async_wrapper, spec=completion))
        yield Patch("litellm", "embedding", functools.partial(sync_wrapper, spec=embedding))
        yield Patch("litellm", "aembedding", functools.partial(async_wrapper, spec=embedding))
