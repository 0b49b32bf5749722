"""Cohere (``cohere`` SDK, v2 API): ``chat``, ``chat_stream``, ``embed`` and ``rerank`` on
``ClientV2`` / ``AsyncClientV2``; tool calls (streamed argument deltas reassembled).

``rerank`` has no operation in the GenAI conventions yet: genai-otel records it as a ``rerank``
CLIENT span (documented extension in conventions/spans.yaml) with the ranked documents' input
index and relevance score under content capture.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import (
    CallSpec,
    GenAIInstrumentor,
    Patch,
    async_generator_wrapper,
    async_wrapper,
    sync_wrapper,
)
from genai_otel.instrumentation.cohere._mapping import (
    ChatStreamAccumulator,
    build_chat,
    build_embed,
    build_rerank,
    chat_result,
    embed_result,
    rerank_result,
)

_CLIENT = "cohere.v2.client"


class CohereInstrumentor(GenAIInstrumentor):
    """Instruments the ``cohere`` Python SDK's v2 clients."""

    dependencies = ("cohere >= 5.11",)

    def patches(self) -> Iterable[Patch]:
        stream = CallSpec(
            "cohere.chat_stream",
            functools.partial(build_chat, stream=True),
            chat_result,
            ChatStreamAccumulator,
            is_stream=lambda kwargs, result: True,
        )
        specs = {
            "chat": CallSpec("cohere.chat", build_chat, chat_result),
            "embed": CallSpec("cohere.embed", build_embed, embed_result),
            "rerank": CallSpec("cohere.rerank", build_rerank, rerank_result),
        }
        for method, spec in specs.items():
            yield Patch(_CLIENT, f"V2Client.{method}", functools.partial(sync_wrapper, spec=spec))
            yield Patch(_CLIENT, f"AsyncV2Client.{method}", functools.partial(async_wrapper, spec=spec))
        yield Patch(_CLIENT, "V2Client.chat_stream", functools.partial(sync_wrapper, spec=stream))
        yield Patch(
            _CLIENT, "AsyncV2Client.chat_stream", functools.partial(async_generator_wrapper, spec=stream)
        )
