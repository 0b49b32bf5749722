"""Cohere v2 requests/responses (chat, embed, rerank; streams) -> invocation records.
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from genai_otel import semconv
from genai_otel.instrumentation._openai_compatible import tool_call_part
from genai_otel.instrumentation._util import arg, get, server_of_url
from genai_otel.telemetry import (
    EmbeddingsInvocation,
    InferenceInvocation,
    RetrievalInvocation,
    TelemetryHandler,
)

PROVIDER = "cohere"
_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def _server(client: Any) -> tuple[str | None, int | None]:
    wrapper = getattr(client, "_client_wrapper", None)
    try:
        return server_of_url(wrapper.get_base_url())
    except AttributeError:
        return None, None


def _text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(get(part, "text") or "" for part in content)


def _message(message: Any) -> dict[str, Any]:
    role = get(message, "role")
    if role == "tool":
        part = {
            "type": "tool_call_response",
            "id": get(message, "tool_call_id"),
            "response": _text(get(message, "content")),
        }
        return {"role": "tool", "parts": [part]}
    text = _text(get(message, "content"))
    parts = [{"type": "text", "content": text}] if text else []
    return {"role": role, "parts": parts + [tool_call_part(c) for c in get(message, "tool_calls") or ()]}


def build_chat(
    handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict, stream: bool = False
) -> InferenceInvocation:
    from genai_otel.instrumentation._openai_compatible import tool_definitions

    host, port = _server(client)
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=PROVIDER,
        request_model=arg(kwargs, "model"),
        server_address=host,
        server_port=port,
        temperature=arg(kwargs, "temperature"),
        top_p=arg(kwargs, "p"),
        top_k=arg(kwargs, "k"),
        max_tokens=arg(kwargs, "max_tokens"),
        stop_sequences=arg(kwargs, "stop_sequences"),
        frequency_penalty=arg(kwargs, "frequency_penalty"),
        presence_penalty=arg(kwargs, "presence_penalty"),
        seed=arg(kwargs, "seed"),
        stream=True if stream else None,
    )
    if get(arg(kwargs, "response_format"), "type") in ("json_object", "json"):
        inv.output_type = "json"
    if handler.capture_content:
        messages = [_message(m) for m in arg(kwargs, "messages") or ()]
        inv.system_instructions = [p for m in messages if m["role"] == "system" for p in m["parts"]] or None
        inv.input_messages = [m for m in messages if m["role"] != "system"]
        inv.tool_definitions = tool_definitions(arg(kwargs, "tools"))
    return inv


def _usage(inv: InferenceInvocation, usage: Any) -> None:
    tokens = get(usage, "tokens") or get(usage, "billed_units")
    inv.input_tokens = get(tokens, "input_tokens")
    inv.output_tokens = get(tokens, "output_tokens")
    if isinstance(inv.input_tokens, float):
        inv.input_tokens = int(inv.input_tokens)
    if isinstance(inv.output_tokens, float):
        inv.output_tokens = int(inv.output_tokens)


def _finish(inv: InferenceInvocation, reason: Any, parts: list[dict[str, Any]] | None) -> None:
    finish = _FINISH.get(str(reason), str(reason or "").lower())
    inv.finish_reasons = [finish]
    if parts is not None and inv.input_messages is not None:
        inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": finish}]


def chat_result(inv: InferenceInvocation, response: Any) -> None:
    inv.response_id = get(response, "id")
    _usage(inv, get(response, "usage"))
    message = get(response, "message")
    parts = _message(
        {"role": "assistant", "content": get(message, "content"), "tool_calls": get(message, "tool_calls")}
    )
    _finish(inv, get(response, "finish_reason"), parts["parts"])


class ChatStreamAccumulator:
    """Folds Cohere's typed stream events (content and tool-call deltas, message-end usage)."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.response_id = None
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.end: Any = None

    def feed(self, event: Any) -> None:
        kind = get(event, "type")
        message = get(get(event, "delta"), "message")
        if kind == "message-start":
            self.response_id = get(event, "id")
        elif kind == "content-delta" and self.capture:
            self.text.append(get(get(message, "content"), "text") or "")
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = get(message, "tool_calls")
            slot = self.calls.setdefault(get(event, "index") or 0, tool_call_part(call) | {"arguments": ""})
            slot["arguments"] += get(get(call, "function"), "arguments") or ""
        elif kind == "message-end":
            self.end = get(event, "delta")

    def apply(self, inv: InferenceInvocation) -> None:
        inv.response_id = self.response_id
        if self.end is None:
            return
        _usage(inv, get(self.end, "usage"))
        text = [{"type": "text", "content": "".join(self.text)}] if self.text else []
        _finish(inv, get(self.end, "finish_reason"), text + [self.calls[i] for i in sorted(self.calls)])


def build_embed(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> EmbeddingsInvocation:
    host, port = _server(client)
    return EmbeddingsInvocation(
        provider=PROVIDER,
        request_model=arg(kwargs, "model"),
        server_address=host,
        server_port=port,
        encoding_formats=[str(t) for t in arg(kwargs, "embedding_types") or ()] or None,
        dimension_count=arg(kwargs, "output_dimension"),
    )


def embed_result(inv: EmbeddingsInvocation, response: Any) -> None:
    units = get(get(response, "meta"), "billed_units")
    tokens = get(units, "input_tokens")
    inv.input_tokens = int(tokens) if tokens is not None else None
    embeddings = get(response, "embeddings")
    for kind in ("float_", "float", "int8", "uint8", "binary", "ubinary"):
        vectors = get(embeddings, kind)
        if vectors and inv.dimension_count is None:
            inv.dimension_count = len(vectors[0])
            break


def build_rerank(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> RetrievalInvocation:
    host, port = _server(client)
    inv = RetrievalInvocation(
        operation=semconv.OPERATION_RERANK,
        provider=PROVIDER,
        request_model=arg(kwargs, "model"),
        server_address=host,
        server_port=port,
        top_k=arg(kwargs, "top_n"),
        kind=SpanKind.CLIENT,
    )
    if handler.capture_content:
        inv.query_text = arg(kwargs, "query")
    return inv


def rerank_result(inv: RetrievalInvocation, response: Any) -> None:
    inv.response_attributes[semconv.GEN_AI_RESPONSE_ID] = get(response, "id")
    if inv.query_text is not None:
        inv.documents = [
            {"id": str(get(r, "index")), "score": get(r, "relevance_score")}
            for r in get(response, "results") or ()
        ]
