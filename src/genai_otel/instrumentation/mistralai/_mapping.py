"""Mistral AI requests -> invocation records (responses through the OpenAI-compatible mapping).
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._util import arg, server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler

PROVIDER = "mistral_ai"


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
