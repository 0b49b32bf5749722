"""Anthropic SDK requests/responses -> genai-otel invocation records. No telemetry logic here."""

from __future__ import annotations

import json
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._util import arg, get, parsed_response, server_of
from genai_otel.telemetry import InferenceInvocation, TelemetryHandler


def _provider(client: Any) -> str:
    # The SDK's Bedrock/Vertex/Foundry clients declare their GenAI provider themselves.
    return getattr(client, "_gen_ai_provider_name", None) or "anthropic"


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    for block in content:
        kind = get(block, "type")
        if kind == "text":
            parts.append({"type": "text", "content": get(block, "text")})
        elif kind == "tool_use":
            parts.append(
                {
                    "type": "tool_call",
                    "id": get(block, "id"),
                    "name": get(block, "name"),
                    "arguments": get(block, "input"),
                }
            )
        elif kind == "tool_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": get(block, "tool_use_id"),
                    "response": get(block, "content"),
                }
            )
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": get(block, "thinking")})
        elif kind == "image":
            source = get(block, "source")
            if get(source, "type") == "url":
                parts.append({"type": "uri", "modality": "image", "uri": get(source, "url")})
            else:
                parts.append({"type": "blob", "modality": "image", "mime_type": get(source, "media_type")})
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def _tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    return [
        {
            "type": get(t, "type") or "function",
            "name": get(t, "name"),
            "description": get(t, "description"),
            "parameters": get(t, "input_schema"),
        }
        for t in tools
    ]


def build_messages(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict
) -> InferenceInvocation:
    client = getattr(resource, "_client", None)
    host, port = server_of(client)
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=_provider(client),
        request_model=arg(kwargs, "model"),
        server_address=host,
        server_port=port,
        temperature=arg(kwargs, "temperature"),
        top_p=arg(kwargs, "top_p"),
        top_k=arg(kwargs, "top_k"),
        max_tokens=arg(kwargs, "max_tokens"),
        stop_sequences=arg(kwargs, "stop_sequences"),
        stream=True if arg(kwargs, "stream") else None,
    )
    if handler.capture_content:
        inv.input_messages = [
            {"role": get(m, "role"), "parts": _parts(get(m, "content"))}
            for m in arg(kwargs, "messages") or ()
        ]
        system = arg(kwargs, "system")
        if system:
            inv.system_instructions = _parts(system)
        inv.tool_definitions = _tool_definitions(arg(kwargs, "tools"))
    return inv


def build_stream(handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
    inv = build_messages(handler, resource, args, kwargs)
    inv.stream = True
    return inv


def _usage(inv: InferenceInvocation, usage: Any) -> None:
    if usage is None:
        return
    cache_read = get(usage, "cache_read_input_tokens")
    cache_write = get(usage, "cache_creation_input_tokens")
    raw_input = get(usage, "input_tokens")
    if raw_input is not None:
        # The conventions count cached tokens as input; Anthropic reports them separately.
        inv.input_tokens = raw_input + (cache_read or 0) + (cache_write or 0)
    inv.cache_read_input_tokens = cache_read
    inv.cache_write_input_tokens = cache_write
    output = get(usage, "output_tokens")
    if output is not None:
        inv.output_tokens = output


def message_result(inv: InferenceInvocation, result: Any) -> None:
    message = parsed_response(result)
    inv.response_id = get(message, "id")
    inv.response_model = get(message, "model")
    stop_reason = get(message, "stop_reason")
    if stop_reason:
        inv.finish_reasons = [stop_reason]
    _usage(inv, get(message, "usage"))
    if inv.input_messages is not None:
        inv.output_messages = [
            {
                "role": "assistant",
                "parts": _parts(get(message, "content")),
                "finish_reason": stop_reason or "",
            }
        ]


class MessageStreamAccumulator:
    """Folds raw ``message_*`` / ``content_block_*`` stream events into the record."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.message: Any = None
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.blocks: dict[int, dict[str, Any]] = {}

    def feed(self, event: Any) -> None:
        kind = get(event, "type")
        if kind == "message_start":
            self.message = get(event, "message")
            self._merge_usage(get(self.message, "usage"))
        elif kind == "message_delta":
            self.stop_reason = get(get(event, "delta"), "stop_reason") or self.stop_reason
            self._merge_usage(get(event, "usage"))
        elif self.capture and kind == "content_block_start":
            block = get(event, "content_block")
            self.blocks[get(event, "index", 0)] = {
                "type": get(block, "type"),
                "text": get(block, "text") or get(block, "thinking") or "",
                "id": get(block, "id"),
                "name": get(block, "name"),
                "json": "",
            }
        elif self.capture and kind == "content_block_delta":
            self._delta(self.blocks.get(get(event, "index", 0)), get(event, "delta"))

    def _merge_usage(self, usage: Any) -> None:
        for key in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = get(usage, key)
            if value is not None:
                self.usage[key] = value

    @staticmethod
    def _delta(block: dict[str, Any] | None, delta: Any) -> None:
        if block is None:
            return
        kind = get(delta, "type")
        if kind == "text_delta":
            block["text"] += get(delta, "text") or ""
        elif kind == "thinking_delta":
            block["text"] += get(delta, "thinking") or ""
        elif kind == "input_json_delta":
            block["json"] += get(delta, "partial_json") or ""

    def apply(self, inv: InferenceInvocation) -> None:
        inv.response_id = get(self.message, "id")
        inv.response_model = get(self.message, "model")
        if self.stop_reason:
            inv.finish_reasons = [self.stop_reason]
        _usage(inv, self.usage or None)
        if self.capture:
            inv.output_messages = [
                {
                    "role": "assistant",
                    "parts": [self._part(self.blocks[i]) for i in sorted(self.blocks)],
                    "finish_reason": self.stop_reason or "",
                }
            ]

    @staticmethod
    def _part(block: dict[str, Any]) -> dict[str, Any]:
        if block["type"] == "tool_use":
            try:
                arguments = json.loads(block["json"]) if block["json"] else {}
            except ValueError:
                arguments = block["json"]
            return {"type": "tool_call", "id": block["id"], "name": block["name"], "arguments": arguments}
        if block["type"] == "thinking":
            return {"type": "reasoning", "content": block["text"]}
        return {"type": "text", "content": block["text"]}
