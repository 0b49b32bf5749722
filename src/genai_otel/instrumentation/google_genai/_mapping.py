"""Google Gen AI requests/responses (generate_content, embed_content; streams) -> invocation records.
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation import _gemini as gemini
from genai_otel.instrumentation._util import arg, get, server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler


def _client_facts(models: Any) -> tuple[str, str | None, int | None]:
    api = getattr(models, "_api_client", None)
    provider = "gcp.vertex_ai" if getattr(api, "vertexai", False) else "gcp.gemini"
    base_url = get(getattr(api, "_http_options", None), "base_url")
    host, port = server_of_url(base_url)
    return provider, host, port


def _model(kwargs: dict) -> str | None:
    model = arg(kwargs, "model")
    return model.removeprefix("models/") if isinstance(model, str) else model


# -- content ------------------------------------------------------------------------------------


# -- generate_content ---------------------------------------------------------------------------


def build_generate(
    handler: TelemetryHandler, models: Any, args: tuple, kwargs: dict, stream: bool = False
) -> InferenceInvocation:
    from genai_otel.instrumentation._openai_compatible import tool_definitions

    provider, host, port = _client_facts(models)
    inv = InferenceInvocation(
        operation=semconv.OPERATION_GENERATE_CONTENT,
        provider=provider,
        request_model=_model(kwargs),
        server_address=host,
        server_port=port,
        stream=True if stream else None,
    )
    config = arg(kwargs, "config")
    gemini.apply_config(inv, config)
    mime = get(config, "response_mime_type")
    if mime:
        inv.output_type = "json" if "json" in mime else "text"
    if handler.capture_content:
        inv.input_messages = gemini.contents(arg(kwargs, "contents"))
        system = get(config, "system_instruction")
        if system is not None:
            inv.system_instructions = [p for m in gemini.contents(system) for p in m["parts"]]
        declarations = [
            d for tool in get(config, "tools") or () for d in get(tool, "function_declarations") or ()
        ]
        inv.tool_definitions = tool_definitions(
            [
                {
                    "type": "function",
                    "function": {"name": get(d, "name"), "description": get(d, "description")},
                }
                for d in declarations
            ]
        )
    return inv


def generate_result(inv: InferenceInvocation, response: Any) -> None:
    inv.response_id = get(response, "response_id")
    inv.response_model = get(response, "model_version")
    candidates = get(response, "candidates") or ()
    inv.finish_reasons = [gemini.reason(get(c, "finish_reason")) for c in candidates]
    gemini.usage(inv, get(response, "usage_metadata"))
    if inv.input_messages is not None:
        inv.output_messages = [
            {
                "role": "assistant",
                "parts": [gemini.part(p) for p in get(get(c, "content"), "parts") or ()],
                "finish_reason": gemini.reason(get(c, "finish_reason")),
            }
            for c in candidates
        ]


class StreamAccumulator:
    """Streamed responses carry partial candidates; usage and finish reason come on the last."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.parts: list[dict[str, Any]] = []
        self.last: Any = None
        self.finish: Any = None

    def feed(self, chunk: Any) -> None:
        self.last = chunk
        for candidate in get(chunk, "candidates") or ():
            if get(candidate, "finish_reason") is not None:
                self.finish = get(candidate, "finish_reason")
            if self.capture:
                self.parts += [gemini.part(p) for p in get(get(candidate, "content"), "parts") or ()]

    def apply(self, inv: InferenceInvocation) -> None:
        if self.last is None:
            return
        inv.response_id = get(self.last, "response_id")
        inv.response_model = get(self.last, "model_version")
        inv.finish_reasons = [gemini.reason(self.finish)] if self.finish is not None else None
        gemini.usage(inv, get(self.last, "usage_metadata"))
        if self.capture and inv.input_messages is not None:
            text = "".join(p["content"] for p in self.parts if p["type"] == "text")
            parts = ([{"type": "text", "content": text}] if text else []) + [
                p for p in self.parts if p["type"] != "text"
            ]
            inv.output_messages = [
                {"role": "assistant", "parts": parts, "finish_reason": gemini.reason(self.finish)}
            ]


# -- embed_content ------------------------------------------------------------------------------


def build_embed(handler: TelemetryHandler, models: Any, args: tuple, kwargs: dict) -> EmbeddingsInvocation:
    provider, host, port = _client_facts(models)
    return EmbeddingsInvocation(
        provider=provider,
        request_model=_model(kwargs),
        server_address=host,
        server_port=port,
        dimension_count=get(arg(kwargs, "config"), "output_dimensionality"),
    )


def embed_result(inv: EmbeddingsInvocation, response: Any) -> None:
    embeddings = get(response, "embeddings") or ()
    if embeddings and inv.dimension_count is None:
        inv.dimension_count = len(get(embeddings[0], "values") or ())
    counts = [get(get(e, "statistics"), "token_count") for e in embeddings]
    if counts and all(c is not None for c in counts):  # Vertex AI reports tokens per embedding
        inv.input_tokens = int(sum(counts))
