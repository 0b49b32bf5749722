"""Agno objects -> invocation records: agents and teams, model calls (Agno ``Message`` lists, the
OpenAI-format tool list), tool calls (``FunctionCall``)."""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._agents import OPENAI_REQUEST_SETTINGS
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    message,
    openai_tool_definition,
    split_system,
    text_parts,
    tool_call,
    tool_response,
)
from genai_otel.instrumentation._util import get, json_or_text
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: Agno's ``Model.provider`` -> ``gen_ai.provider.name`` (well-known values); others are lower-cased.
PROVIDERS = {
    "OpenAI": "openai",
    "OpenResponses": "openai",
    "Anthropic": "anthropic",
    "AwsBedrock": "aws.bedrock",
    "Azure": "azure.ai.openai",
    "AzureFoundry": "azure.ai.inference",
    "Cohere": "cohere",
    "DeepSeek": "deepseek",
    "Google": "gcp.gemini",
    "VertexAI": "gcp.vertex_ai",
    "Groq": "groq",
    "IBM": "ibm.watsonx.ai",
    "Mistral": "mistral_ai",
    "Ollama": "ollama",
    "Perplexity": "perplexity",
    "xAI": "x_ai",
}
#: Request parameters of Agno's model classes -> record fields.
_PARAMETERS = {**OPENAI_REQUEST_SETTINGS, "top_k": "top_k"}


def provider_of(model: Any) -> str | None:
    provider = getattr(model, "provider", None)
    if not isinstance(provider, str) or not provider:
        return None
    return PROVIDERS.get(provider, provider.lower().replace(" ", "_"))


def agent_record(owner: Any, run_response: Any, capture: bool) -> AgentInvocation:
    """An agent's or a team's run: ``invoke_agent {name}``, the session as the conversation."""
    session_id = getattr(run_response, "session_id", None)
    model = getattr(owner, "model", None)
    inv = AgentInvocation(
        agent_name=getattr(owner, "name", None),
        agent_id=getattr(owner, "id", None),
        agent_description=getattr(owner, "description", None),
        provider=provider_of(model),
        request_model=getattr(model, "id", None),
        conversation_id=str(session_id) if session_id else None,
    )
    if capture:
        instructions = getattr(owner, "instructions", None)
        if isinstance(instructions, str):
            instructions = [instructions]
        if isinstance(instructions, list) and all(isinstance(i, str) for i in instructions):
            inv.system_instructions = [{"type": "text", "content": i} for i in instructions] or None
        run_input = getattr(run_response, "input", None)
        if run_input is not None:
            inv.input_messages = [message("user", text_parts(run_input.input_content_string()))]
    return inv


def agent_output(inv: AgentInvocation, run_response: Any) -> None:
    content = getattr(run_response, "content", None)
    if content is not None:
        text = content if isinstance(content, str) else str(content)
        inv.output_messages = [message("assistant", text_parts(text))]


def chat_record(model: Any, messages: Any, tools: Any, capture: bool) -> InferenceInvocation:
    """One model call; the client SDK call made inside merges into it."""
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=provider_of(model),
        request_model=getattr(model, "id", None),
        owns_client_calls=True,
        guessed=frozenset({"provider"}),
    )
    for name, field in _PARAMETERS.items():
        value = getattr(model, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and getattr(inv, field) is None:
            setattr(inv, field, value)
    stop = getattr(model, "stop", None)
    inv.stop_sequences = [stop] if isinstance(stop, str) else (list(stop) if stop else None)
    if capture:
        split_system(inv, messages or (), lambda msg: msg.role, lambda msg: msg.content, message_json)
        inv.tool_definitions = [openai_tool_definition(t) for t in tools or ()] or None
    return inv


def chat_result(inv: InferenceInvocation, assistant_message: Any, capture: bool) -> None:
    """Usage and (content) the reply, from the assistant message Agno filled."""
    metrics = getattr(assistant_message, "metrics", None)
    fill(
        inv,
        input_tokens=getattr(metrics, "input_tokens", None),
        output_tokens=getattr(metrics, "output_tokens", None),
        cache_read_input_tokens=getattr(metrics, "cache_read_tokens", None) or None,
        cache_write_input_tokens=getattr(metrics, "cache_write_tokens", None) or None,
        reasoning_output_tokens=getattr(metrics, "reasoning_tokens", None) or None,
    )
    if capture and assistant_message is not None:
        inv.output_messages = [message_json(assistant_message)]


def message_json(msg: Any) -> dict[str, Any]:
    """An Agno ``Message`` as GenAI message JSON."""
    if msg.role == "tool":
        return message("tool", [tool_response(msg.tool_call_id, msg.content)])
    parts = text_parts(msg.content)
    for call in msg.tool_calls or ():
        function = get(call, "function") or {}
        parts.append(
            tool_call(get(call, "id"), get(function, "name"), json_or_text(get(function, "arguments")))
        )
    return message(msg.role, parts)


def tool_record(function_call: Any, capture: bool) -> ToolInvocation:
    function = getattr(function_call, "function", None)
    inv = ToolInvocation(
        tool_name=getattr(function, "name", None),
        tool_description=getattr(function, "description", None) or None,
        tool_call_id=getattr(function_call, "call_id", None),
        tool_type="function",
    )
    if capture:
        inv.arguments = getattr(function_call, "arguments", None)
    return inv


class ToolFailed(Exception):
    """A tool Agno reported as failed (it catches the tool's exception and keeps only its text)."""


def tool_outcome(inv: ToolInvocation, outcome: Any, capture: bool) -> ToolFailed | None:
    """The tool's result (content capture), or the failure to mark the span with."""
    if getattr(outcome, "status", None) == "failure":
        return ToolFailed(getattr(outcome, "error", None) or "tool failed")
    result = getattr(outcome, "result", None)
    if capture and isinstance(result, (str, int, float, bool, dict, list)):
        inv.result = result
    return None
