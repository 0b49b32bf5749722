"""Strands objects -> invocation records: messages (Bedrock-style content blocks), usage, stop reasons,
tool specs, the model's provider."""

from __future__ import annotations

from typing import Any

from genai_otel.instrumentation._messages import function_definition, message, tool_call, tool_response
from genai_otel.instrumentation._util import get

#: The module of a Strands model class -> ``gen_ai.provider.name``.
PROVIDERS = {
    "strands.models.openai": "openai",
    "strands.models.openai_responses": "openai",
    "strands.models.anthropic": "anthropic",
    "strands.models.bedrock": "aws.bedrock",
    "strands.models.gemini": "gcp.gemini",
    "strands.models.mistral": "mistral_ai",
    "strands.models.ollama": "ollama",
    "strands.models.llamaapi": "meta",
    "strands.models.writer": "writer",
    "strands.models.sagemaker": "aws.sagemaker",
}
#: Strands' ``StopReason`` -> finish reasons as the OpenAI-style values the other instrumentors record.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


def provider_of(model: Any) -> str | None:
    """The provider of a Strands model object, by its class's module (LiteLLM and custom models: none)."""
    return PROVIDERS.get(type(model).__module__) if model is not None else None


def model_id_of(model: Any) -> str | None:
    config = getattr(model, "config", None)
    model_id = config.get("model_id") if isinstance(config, dict) else None
    return str(model_id) if model_id else None


def finish_reason(stop_reason: Any) -> str | None:
    if not stop_reason:
        return None
    return FINISH_REASONS.get(str(stop_reason), str(stop_reason))


def _parts(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in content or ():
        if not isinstance(block, dict):
            continue
        if "text" in block:
            parts.append({"type": "text", "content": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(tool_call(use.get("toolUseId"), use.get("name"), use.get("input")))
        elif "toolResult" in block:
            result = block["toolResult"]
            parts.append(tool_response(result.get("toolUseId"), _result_content(result.get("content"))))
        elif "reasoningContent" in block:
            text = get(get(block["reasoningContent"], "reasoningText"), "text")
            parts.append({"type": "reasoning", "content": text})
        elif "image" in block:
            parts.append({"type": "blob", "modality": "image"})
        else:
            parts.append({"type": next(iter(block), "unknown")})
    return parts


def _result_content(content: Any) -> Any:
    """A tool result's content blocks as plain values: text joined, JSON blocks as they are."""
    values = [b.get("text", b.get("json")) for b in content or () if isinstance(b, dict)]
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, str) for v in values):
        return "".join(values)
    return values[0] if len(values) == 1 else values


def message_json(msg: Any, finish: str | None = None) -> dict[str, Any]:
    """A Strands message (``{"role", "content": [blocks]}``) as GenAI message JSON; a user message that
    only carries tool results is a ``tool`` message."""
    content = msg.get("content") if isinstance(msg, dict) else None
    role = str(msg.get("role", "user")) if isinstance(msg, dict) else "user"
    parts = _parts(content)
    if role == "user" and parts and all(p["type"] == "tool_call_response" for p in parts):
        role = "tool"
    return message(role, parts, finish)


def messages_json(messages: Any) -> list[dict[str, Any]] | None:
    return [message_json(m) for m in messages or ()] or None


def system_instructions(system_prompt: str | None, system_prompt_content: Any) -> list[dict[str, Any]] | None:
    if system_prompt_content:
        return _parts(system_prompt_content) or None
    return [{"type": "text", "content": system_prompt}] if system_prompt else None


def tool_definitions(tools_config: Any) -> list[dict[str, Any]] | None:
    """``gen_ai.tool.definitions`` from Strands' tool registry config (name -> tool spec)."""
    if not isinstance(tools_config, dict) or not tools_config:
        return None
    return [
        function_definition(name, get(spec, "description"), get(get(spec, "inputSchema"), "json"))
        for name, spec in tools_config.items()
    ]


def tool_result(result: Any) -> Any:
    return _result_content(get(result, "content"))
