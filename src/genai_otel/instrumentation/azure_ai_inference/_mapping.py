"""Azure AI Inference requests -> invocation records (responses through the OpenAI-compatible mapping).
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._util import given, server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler

PROVIDER = "azure.ai.inference"
_SETTINGS = (
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
)


def _request(client: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The effective request: a ``body`` dict, else keyword arguments over the client's defaults."""
    body = args[0] if args else kwargs.get("body")
    if isinstance(body, dict):
        return body
    merged = {name: getattr(client, f"_{name}", None) for name in _SETTINGS}
    merged.update({k: v for k, v in kwargs.items() if given(v) and type(v) is not object})
    return merged


def _server(client: Any) -> tuple[str | None, int | None]:
    return server_of_url(getattr(getattr(client, "_config", None), "endpoint", None))


def build_chat(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
    from genai_otel.instrumentation import _openai_compatible as m

    request = _request(client, args, kwargs)
    host, port = _server(client)
    inv = m.compatible_request(
        request, semconv.OPERATION_CHAT, PROVIDER, host, port, request.get("max_tokens")
    )
    response_format = request.get("response_format")
    if isinstance(response_format, str):
        request = {**request, "response_format": {"type": response_format}}
    elif response_format is not None:  # JsonSchemaFormat
        request = {**request, "response_format": {"type": "json_schema"}}
    m.chat_request_details(handler, inv, request)
    return inv


def build_embeddings(
    handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict
) -> EmbeddingsInvocation:
    request = _request(client, args, kwargs)
    host, port = _server(client)
    fmt = request.get("encoding_format")
    return EmbeddingsInvocation(
        provider=PROVIDER,
        request_model=request.get("model") or getattr(client, "_model", None),
        server_address=host,
        server_port=port,
        encoding_formats=[str(fmt)] if fmt else None,
        dimension_count=request.get("dimensions"),
    )
