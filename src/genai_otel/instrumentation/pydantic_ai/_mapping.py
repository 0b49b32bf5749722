"""Pydantic AI objects -> invocation records: the agent, model requests and responses, tool calls."""

from __future__ import annotations

import json
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import function_definition, message, tool_call, tool_response
from genai_otel.instrumentation._util import get
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: A Pydantic AI model's ``system`` -> ``gen_ai.provider.name`` (well-known values); others are kept.
PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google-gla": "gcp.gemini",
    "google-vertex": "gcp.vertex_ai",
    "groq": "groq",
    "mistral": "mistral_ai",
    "cohere": "cohere",
    "bedrock": "aws.bedrock",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "grok": "x_ai",
    "ollama": "ollama",
}
#: ``ModelRequestParameters.output_mode`` values whose output is JSON (a schema the model fills in).
_JSON_OUTPUT_MODES = frozenset({"auto", "native", "prompted", "tool"})


def provider_of(model: Any) -> str | None:
    system = getattr(model, "system", None)
    return PROVIDERS.get(system, system) if isinstance(system, str) and system else None


def agent_record(ctx: Any, capture: bool) -> AgentInvocation:
    """``invoke_agent`` for one run: the agent's name and description, its model (Pydantic AI gives an
    agent one model), the run's conversation id and, under content capture, the user prompt."""
    agent = ctx.agent
    model = ctx.model
    description = getattr(agent, "description", None)
    inv = AgentInvocation(
        agent_name=getattr(agent, "name", None),
        agent_description=description if isinstance(description, str) else None,
        request_model=getattr(model, "model_name", None),
        provider=provider_of(model),
        conversation_id=ctx.conversation_id,
        # Structured output (a model, a dataclass, ``NativeOutput(...)``): the run answers in JSON.
        output_type=None if getattr(agent, "output_type", str) is str else "json",
    )
    if capture and isinstance(ctx.prompt, str):
        inv.input_messages = [message("user", [{"type": "text", "content": ctx.prompt}])]
    return inv


def agent_result(inv: AgentInvocation, result: Any, capture: bool) -> None:
    """The run's output (content); structured output as JSON."""
    output = getattr(result, "output", None)
    if capture and output is not None:
        inv.output_messages = [message("assistant", [{"type": "text", "content": _text(output)}], "stop")]


def chat_record(request_context: Any, capture: bool) -> InferenceInvocation:
    """``chat`` for one model request: model, settings, requested output type, and (content) the
    messages, instructions and tool definitions sent."""
    model = request_context.model
    params = request_context.model_request_parameters
    settings = request_context.model_settings or {}
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        request_model=getattr(model, "model_name", None),
        provider=provider_of(model),
        guessed=frozenset({"provider"}),
        owns_client_calls=True,
        stream=True if request_context.streaming else None,
        temperature=settings.get("temperature"),
        top_p=settings.get("top_p"),
        max_tokens=settings.get("max_tokens"),
        seed=settings.get("seed"),
        presence_penalty=settings.get("presence_penalty"),
        frequency_penalty=settings.get("frequency_penalty"),
        stop_sequences=settings.get("stop_sequences"),
    )
    if params.output_mode in _JSON_OUTPUT_MODES and (params.output_object or params.output_tools):
        inv.output_type = "json"
    if capture:
        instructions = [part.content for part in params.instruction_parts or () if part.content]
        system = [part for msg in request_context.messages for part in _system_parts(msg)]
        system += [{"type": "text", "content": text} for text in instructions]
        inv.system_instructions = system or None
        inv.input_messages = [m for msg in request_context.messages for m in messages_json(msg)]
        tools = [*params.function_tools, *params.output_tools]
        inv.tool_definitions = [
            function_definition(tool.name, tool.description, tool.parameters_json_schema) for tool in tools
        ] or None
    return inv


def chat_response(inv: InferenceInvocation, response: Any, capture: bool) -> None:
    """Response model/id, finish reason and usage (the client call merged into ``inv`` knows them
    exactly and wins), and (content) the output message."""
    usage = getattr(response, "usage", None)
    reason = getattr(response, "finish_reason", None)
    fill(
        inv,
        response_model=getattr(response, "model_name", None),
        response_id=getattr(response, "provider_response_id", None),
        finish_reasons=[reason] if reason else None,
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_input_tokens=getattr(usage, "cache_read_tokens", None) or None,
        cache_write_input_tokens=getattr(usage, "cache_write_tokens", None) or None,
    )
    if capture:
        inv.output_messages = messages_json(response, reason or "stop")


def tool_record(call: Any, tool_def: Any, capture: bool) -> ToolInvocation:
    inv = ToolInvocation(
        tool_name=call.tool_name,
        tool_call_id=call.tool_call_id,
        tool_type="function",
        tool_description=getattr(tool_def, "description", None),
    )
    if capture:
        inv.arguments = call.args
    return inv


def tool_result(inv: ToolInvocation, result: Any, capture: bool) -> None:
    if capture:
        inv.result = result if isinstance(result, (str, int, float, bool)) else _text(result)


def messages_json(msg: Any, finish_reason: str | None = None) -> list[dict[str, Any]]:
    """A ``ModelRequest`` (user prompts, tool returns, retry prompts) or ``ModelResponse`` (text, tool
    calls) as GenAI messages: one per role, in order. System prompts go to the system instructions."""
    if getattr(msg, "kind", None) == "response":
        parts = [_response_part(part) for part in msg.parts]
        return [message("assistant", [p for p in parts if p is not None], finish_reason)]
    out: list[dict[str, Any]] = []
    for part in msg.parts:
        kind = getattr(part, "part_kind", None)
        if kind == "user-prompt":
            out.append(message("user", _user_parts(part.content)))
        elif kind in ("tool-return", "builtin-tool-return"):
            out.append(message("tool", [tool_response(part.tool_call_id, _text(part.content))]))
        elif kind == "retry-prompt":
            text = part.model_response() if hasattr(part, "model_response") else _text(part.content)
            if part.tool_name is None:
                out.append(message("user", [{"type": "text", "content": text}]))
            else:
                out.append(message("tool", [tool_response(part.tool_call_id, text)]))
    return out


def _system_parts(msg: Any) -> list[dict[str, Any]]:
    if getattr(msg, "kind", None) == "response":
        return []
    return [
        {"type": "text", "content": part.content}
        for part in msg.parts
        if getattr(part, "part_kind", None) == "system-prompt"
    ]


def _response_part(part: Any) -> dict[str, Any] | None:
    kind = getattr(part, "part_kind", None)
    if kind == "text":
        return {"type": "text", "content": part.content}
    if kind in ("tool-call", "builtin-tool-call"):
        return tool_call(part.tool_call_id, part.tool_name, part.args)
    if kind == "thinking":
        return {"type": "reasoning", "content": part.content}
    return None


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    for item in content or ():
        if isinstance(item, str):
            parts.append({"type": "text", "content": item})
        elif get(item, "url") is not None:
            parts.append({"type": "uri", "modality": _modality(item), "uri": item.url})
        else:
            parts.append({"type": "blob", "modality": _modality(item)})
    return parts


def _modality(item: Any) -> str:
    kind = str(get(item, "kind", ""))
    for modality in ("image", "audio", "video"):
        if kind.startswith(modality) or str(get(item, "media_type", "")).startswith(modality):
            return modality
    return "document"


def _text(value: Any) -> str:
    """Tool results and structured outputs as text: JSON for models and dataclasses."""
    if isinstance(value, str):
        return value
    try:
        from pydantic_core import to_json

        return to_json(value).decode()
    except Exception:  # not serializable: its repr says what it was
        return json.dumps(repr(value))
