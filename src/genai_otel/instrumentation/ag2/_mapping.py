"""AG2 1.x objects (agents, model configs, events) -> GenAI records.

Read by duck typing: nothing of AG2 is imported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._agents import OPENAI_REQUEST_SETTINGS
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    function_definition,
    message,
    text_parts,
    tool_call,
    tool_response,
)
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

# ag2.config.ModelProvider values that differ from gen_ai.provider.name.
_PROVIDERS = {"bedrock": "aws.bedrock", "gemini": "gcp.gemini", "vertexai": "gcp.vertex_ai", "xai": "x_ai"}


def provider_of(config: Any) -> str | None:
    provider = getattr(config, "provider", None)
    value = getattr(provider, "value", provider)
    return _PROVIDERS.get(value, value) if isinstance(value, str) else None


def model_of(config: Any) -> str | None:
    model = getattr(config, "model", None)
    return model if isinstance(model, str) else None


def agent_record(agent: Any, config: Any, conversation_id: Any, capture: bool) -> AgentInvocation:
    """``invoke_agent {name}`` for one turn; provider and model of the config the turn runs with."""
    inv = AgentInvocation(
        agent_name=getattr(agent, "name", None),
        provider=provider_of(config),
        request_model=model_of(config),
        conversation_id=str(conversation_id) if conversation_id is not None else None,
    )
    if capture:
        inv.tool_definitions = (
            tool_definitions(_schema(t) for t in getattr(agent, "tools", None) or ()) or None
        )
    return inv


def chat_record(config: Any, events: Any, prompt: Any, schemas: Any, capture: bool) -> InferenceInvocation:
    """``chat {model}`` for one model call of a turn; owns the SDK call made inside."""
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=provider_of(config) or "ag2",
        request_model=model_of(config),
        owns_client_calls=True,
    )
    for name, field_name in OPENAI_REQUEST_SETTINGS.items():  # ``omit`` and None skipped
        value = getattr(config, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            setattr(inv, field_name, value)
    if getattr(config, "streaming", False) is True:
        inv.stream = True
    if capture:
        inv.system_instructions = system_instructions(prompt)
        inv.input_messages = history_messages(events or ())
        inv.tool_definitions = tool_definitions(schemas or ()) or None
    return inv


def on_model_response(inv: InferenceInvocation, response: Any, capture: bool) -> None:
    """Copy a ``ModelResponse`` into the record; the merged SDK call's exact values win."""
    usage = getattr(response, "usage", None)
    reason = getattr(response, "finish_reason", None)
    fill(
        inv,
        response_model=getattr(response, "model", None),
        response_id=getattr(response, "response_id", None),
        finish_reasons=[reason] if isinstance(reason, str) else None,
        input_tokens=getattr(usage, "prompt_tokens", None) or None,
        output_tokens=getattr(usage, "completion_tokens", None) or None,
    )
    if capture:
        inv.output_messages = [response_message(response)]


def tool_record(event: Any, capture: bool) -> ToolInvocation:
    inv = ToolInvocation(tool_name=event.name, tool_call_id=event.id, tool_type="function")
    if capture:
        inv.arguments = _arguments(event.arguments)
    return inv


def tool_result_text(result: Any) -> str:
    """A ``ToolResultEvent``'s result parts as text (binary parts have none)."""
    parts = getattr(getattr(result, "result", None), "parts", None) or ()
    return "\n".join(text for part in parts if (text := _part_text(part)) is not None)


# -- messages ---------------------------------------------------------------------------------------


def system_instructions(prompt: Any) -> list[dict[str, Any]] | None:
    parts = [p for fragment in prompt or () if isinstance(fragment, str) for p in text_parts(fragment)]
    return parts or None


def trigger_messages(event: Any) -> list[dict[str, Any]]:
    """What started the turn: a ``ModelRequest`` (the user's input)."""
    parts = [p for part in getattr(event, "parts", None) or () for p in _input_parts(part)]
    return [message("user", parts)] if parts else []


def history_messages(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The history a model call is sent: requests, replies, tool results."""
    messages = []
    for event in events:
        kind = type(event).__name__
        if kind in ("ModelRequest", "DrainedModelRequest"):
            messages.extend(trigger_messages(event))
        elif kind == "ModelResponse":
            messages.append(response_message(event))
        elif kind == "ToolResultsEvent":
            responses = [tool_response(r.parent_id, tool_result_text(r)) for r in event.results]
            messages.append(message("tool", responses))
    return messages


def response_message(response: Any) -> dict[str, Any]:
    content = getattr(response, "content", None)
    parts = text_parts(content if isinstance(content, str) else None)
    calls = getattr(getattr(response, "tool_calls", None), "calls", None) or ()
    parts += [tool_call(c.id, c.name, _arguments(c.arguments)) for c in calls]
    reason = getattr(response, "finish_reason", None)
    return message("assistant", parts, reason if isinstance(reason, str) else None)


def tool_definitions(schemas: Iterable[Any]) -> list[dict[str, Any]]:
    """AG2 ``FunctionToolSchema``s (``function`` = name, description, parameters)."""
    definitions = []
    for schema in schemas:
        function = getattr(schema, "function", None)
        if function is not None:
            kind = getattr(schema, "type", "function")
            definitions.append(
                function_definition(function.name, function.description, function.parameters, kind)
            )
    return definitions


def _schema(tool: Any) -> Any:
    return getattr(tool, "schema", None)


def _input_parts(part: Any) -> list[dict[str, Any]]:
    text = _part_text(part)
    return text_parts(text) if text is not None else []


def _part_text(part: Any) -> str | None:
    kind = type(part).__name__
    if kind == "TextInput":
        return part.content
    if kind == "DataInput":
        return json.dumps(part.data, default=str)
    if kind == "UrlInput":
        return part.url
    return None


def _arguments(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw
