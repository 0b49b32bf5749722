"""Google Gen AI SDK (``google-genai``): ``models.generate_content``, ``generate_content_stream`` and
``embed_content``, sync and ``client.aio``; function calls; cached and thinking tokens.

``gen_ai.provider.name`` is ``gcp.vertex_ai`` for Vertex AI clients and ``gcp.gemini`` for the
Gemini Developer API (the registry's value for AI Studio; ``gcp.gen_ai`` is its catch-all).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, async_wrapper, sync_wrapper
from genai_otel.instrumentation.google_genai._mapping import (
    StreamAccumulator,
    build_embed,
    build_generate,
    embed_result,
    generate_result,
)

_MODELS = "google.genai.models"


class GoogleGenAIInstrumentor(GenAIInstrumentor):
    """Instruments the ``google-genai`` Python SDK."""

    dependencies = ("google-genai >= 1.0",)

    def patches(self) -> Iterable[Patch]:
        always = {"is_stream": lambda kwargs, result: True}
        specs = {
            "generate_content": CallSpec("google_genai.generate", build_generate, generate_result),
            "generate_content_stream": CallSpec(
                "google_genai.stream",
                functools.partial(build_generate, stream=True),
                generate_result,
                StreamAccumulator,
                **always,
            ),
            "embed_content": CallSpec("google_genai.embed", build_embed, embed_result),
        }
        for method, spec in specs.items():
            yield Patch(_MODELS, f"Models.{method}", functools.partial(sync_wrapper, spec=spec))
            yield Patch(_MODELS, f"AsyncModels.{method}", functools.partial(async_wrapper, spec=spec))
