"""Bedrock Runtime requests/responses (Converse and InvokeModel bodies, streams) -> invocation records.
No telemetry logic here.
"""

from __future__ import annotations

import io
import json
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._util import server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler

PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "FINISH": "stop",
    "LENGTH": "length",
}


def _reason(value: Any) -> str:
    return _STOP.get(str(value), str(value or ""))


# -- Converse -----------------------------------------------------------------------------------


def _block(block: Any) -> dict[str, Any]:
    if "text" in block:
        return {"type": "text", "content": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {
            "type": "tool_call",
            "id": use.get("toolUseId"),
            "name": use.get("name"),
            "arguments": use.get("input"),
        }
    if "toolResult" in block:
        result = block["toolResult"]
        return {
            "type": "tool_call_response",
            "id": result.get("toolUseId"),
            "response": result.get("content"),
        }
    return {"type": next(iter(block), "unknown")}


def _converse_request(handler: TelemetryHandler, inv: InferenceInvocation, params: dict[str, Any]) -> None:
    config = params.get("inferenceConfig") or {}
    inv.max_tokens, inv.temperature = config.get("maxTokens"), config.get("temperature")
    inv.top_p, inv.stop_sequences = config.get("topP"), config.get("stopSequences")
    if handler.capture_content:
        inv.input_messages = [
            {"role": m.get("role"), "parts": [_block(b) for b in m.get("content") or ()]}
            for m in params.get("messages") or ()
        ]
        inv.system_instructions = [_block(b) for b in params.get("system") or ()] or None
        tools = [t.get("toolSpec") or {} for t in (params.get("toolConfig") or {}).get("tools") or ()]
        inv.tool_definitions = [
            {"type": "function", "name": t.get("name"), "description": t.get("description")} for t in tools
        ] or None


def _usage(inv: InferenceInvocation, usage: Any) -> None:
    if not usage:
        return
    cache_read, cache_write = usage.get("cacheReadInputTokens"), usage.get("cacheWriteInputTokens")
    inv.input_tokens = usage.get("inputTokens", 0) + (cache_read or 0) + (cache_write or 0)
    inv.output_tokens = usage.get("outputTokens")
    inv.cache_read_input_tokens, inv.cache_write_input_tokens = cache_read, cache_write


def converse_result(inv: InferenceInvocation, response: dict[str, Any]) -> None:
    inv.finish_reasons = [_reason(response.get("stopReason"))]
    _usage(inv, response.get("usage"))
    if inv.input_messages is not None:
        content = ((response.get("output") or {}).get("message") or {}).get("content") or ()
        parts = [_block(b) for b in content]
        inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": inv.finish_reasons[0]}]


class ConverseStreamAccumulator:
    """Folds ConverseStream events: text and tool-use input deltas, the stop reason, usage metadata."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stop: Any = None
        self.usage: Any = None

    def feed(self, event: dict[str, Any]) -> None:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse") or {}
            slot = {"type": "tool_call", "id": use.get("toolUseId"), "name": use.get("name"), "arguments": ""}
            self.blocks[start.get("contentBlockIndex", 0)] = slot
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            index, piece = delta.get("contentBlockIndex", 0), delta.get("delta") or {}
            if "toolUse" in piece:
                self.blocks.setdefault(index, {"type": "tool_call", "arguments": ""})["arguments"] += piece[
                    "toolUse"
                ].get("input", "")
            elif "text" in piece and self.capture:
                self.blocks.setdefault(index, {"type": "text", "content": ""})["content"] += piece["text"]
        elif "messageStop" in event:
            self.stop = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")

    def apply(self, inv: InferenceInvocation) -> None:
        if self.stop is not None:
            inv.finish_reasons = [_reason(self.stop)]
        _usage(inv, self.usage)
        if self.capture and inv.input_messages is not None:
            parts = [self.blocks[i] for i in sorted(self.blocks)]
            inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": _reason(self.stop)}]


# -- InvokeModel ----------------------------------------------------------------------------------


def _json_body(body: Any) -> dict[str, Any]:
    if isinstance(body, (bytes, bytearray, str)):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _invoke_request(handler: TelemetryHandler, inv: InferenceInvocation, body: dict[str, Any]) -> None:
    """Request settings in each family's native body (Anthropic, Nova, Llama, Titan)."""
    nova = body.get("inferenceConfig") or {}
    titan = body.get("textGenerationConfig") or {}
    inv.max_tokens = (
        body.get("max_tokens")
        or body.get("max_gen_len")
        or nova.get("max_new_tokens")
        or titan.get("maxTokenCount")
    )
    inv.temperature = next(
        (
            v
            for v in (body.get("temperature"), nova.get("temperature"), titan.get("temperature"))
            if v is not None
        ),
        None,
    )
    inv.top_p = next(
        (v for v in (body.get("top_p"), nova.get("topP"), titan.get("topP")) if v is not None), None
    )
    inv.top_k = body.get("top_k")
    inv.stop_sequences = body.get("stop_sequences") or titan.get("stopSequences")
    if handler.capture_content:
        prompt = body.get("prompt") or body.get("inputText")
        if prompt is not None:
            inv.input_messages = [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
        else:
            inv.input_messages = [
                {"role": m.get("role"), "parts": _native_parts(m.get("content"))}
                for m in body.get("messages") or ()
            ]


def _native_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return [
        {"type": "text", "content": b.get("text")} if "text" in b else {"type": b.get("type", "unknown")}
        for b in content or ()
        if isinstance(b, dict)
    ]


def _invoke_output(payload: dict[str, Any]) -> tuple[str | None, str]:
    """(text, finish reason) from a native response body of any supported family."""
    if "content" in payload:  # Anthropic
        text = "".join(b.get("text", "") for b in payload["content"] if isinstance(b, dict))
        return text, _reason(payload.get("stop_reason"))
    if "output" in payload:  # Nova
        content = ((payload["output"] or {}).get("message") or {}).get("content") or ()
        return "".join(b.get("text", "") for b in content), _reason(payload.get("stopReason"))
    if "generation" in payload:  # Llama
        return payload["generation"], _reason(payload.get("stop_reason"))
    results = payload.get("results") or [{}]  # Titan text
    return results[0].get("outputText"), _reason(results[0].get("completionReason"))


def _header_tokens(response: dict[str, Any], name: str) -> int | None:
    value = ((response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}).get(name)
    return int(value) if value is not None else None


def invoke_result(inv: Any, response: dict[str, Any]) -> None:
    """Reads the body (and puts an unread copy back), then token counts from Bedrock's headers."""
    from botocore.response import StreamingBody

    body = response.get("body")
    data = body.read() if body is not None else b""
    response["body"] = StreamingBody(io.BytesIO(data), len(data))
    payload = _json_body(data)
    inv.input_tokens = _header_tokens(response, "x-amzn-bedrock-input-token-count")
    if isinstance(inv, EmbeddingsInvocation):
        vector = payload.get("embedding") or (payload.get("embeddings") or [None])[0]
        inv.dimension_count = len(vector) if isinstance(vector, list) else None
        return
    inv.output_tokens = _header_tokens(response, "x-amzn-bedrock-output-token-count")
    text, reason = _invoke_output(payload)
    inv.finish_reasons = [reason]
    if inv.input_messages is not None:
        inv.output_messages = [
            {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": reason}
        ]


class InvokeStreamAccumulator:
    """Response-stream chunks carry native JSON; the last one has Bedrock's invocation metrics."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.texts: list[str] = []
        self.reason = ""
        self.metrics: dict[str, Any] = {}

    def feed(self, event: dict[str, Any]) -> None:
        payload = _json_body(((event or {}).get("chunk") or {}).get("bytes"))
        self.metrics = payload.get("amazon-bedrock-invocationMetrics") or self.metrics
        text, reason = _invoke_output(payload) if payload else (None, "")
        self.reason = reason or self.reason
        if self.capture and text:
            self.texts.append(text)

    def apply(self, inv: InferenceInvocation) -> None:
        inv.input_tokens = self.metrics.get("inputTokenCount")
        inv.output_tokens = self.metrics.get("outputTokenCount")
        inv.finish_reasons = [self.reason] if self.reason else None
        if self.capture and inv.input_messages is not None:
            parts = [{"type": "text", "content": "".join(self.texts)}]
            inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": self.reason}]


# -- the botocore hook ---------------------------------------------------------------------------

OPERATIONS = {
    "Converse": (converse_result, None),
    "ConverseStream": (None, ConverseStreamAccumulator),
    "InvokeModel": (invoke_result, None),
    "InvokeModelWithResponseStream": (None, InvokeStreamAccumulator),
}


def build(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> Any:
    operation, params = (*args, None, None)[:2]
    if operation not in OPERATIONS or getattr(getattr(client, "meta", None), "service_model", None) is None:
        return None
    if client.meta.service_model.service_name != SERVICE:
        return None
    params = params or {}
    host, port = server_of_url(getattr(client.meta, "endpoint_url", None))
    model = params.get("modelId")
    facts = {"provider": PROVIDER, "request_model": model, "server_address": host, "server_port": port}
    if operation.startswith("InvokeModel"):
        body = _json_body(params.get("body"))
        if "embed" in str(model):
            return EmbeddingsInvocation(**facts, dimension_count=body.get("dimensions"))
        inv = InferenceInvocation(operation=semconv.OPERATION_CHAT, **facts)
        _invoke_request(handler, inv, body)
    else:
        inv = InferenceInvocation(operation=semconv.OPERATION_CHAT, **facts)
        _converse_request(handler, inv, params)
    inv.stream = True if operation.endswith("Stream") else None
    guardrail = (params.get("guardrailConfig") or {}).get("guardrailIdentifier") or params.get(
        "guardrailIdentifier"
    )
    if guardrail:
        inv.attributes[semconv.AWS_BEDROCK_GUARDRAIL_ID] = guardrail
    return inv
