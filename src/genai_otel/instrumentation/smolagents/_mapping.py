"""smolagents objects -> invocation records: agents, model calls (``ChatMessage`` in and out), tools."""

from __future__ import annotations

import json
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._agents import OPENAI_REQUEST_SETTINGS
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import message, split_system, text_parts, tool_call
from genai_otel.instrumentation._util import get, json_or_text
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: A smolagents model class -> ``gen_ai.provider.name`` when the class fixes the provider.
PROVIDERS = {
    "OpenAIModel": "openai",
    "AzureOpenAIModel": "azure.ai.openai",
    "AmazonBedrockModel": "aws.bedrock",
}
#: smolagents' own roles for the memory it replays to the model -> GenAI roles.
ROLES = {"tool-call": "assistant", "tool-response": "tool"}


def provider_of(model: Any) -> str | None:
    """The provider when the model class says it (OpenAI, Azure, Bedrock); a LiteLLM ``provider/model`` id
    names it; else the client call merged into the record tells."""
    for cls in type(model).__mro__:
        if cls.__name__ in PROVIDERS:
            return PROVIDERS[cls.__name__]
    model_id = getattr(model, "model_id", None)
    if "LiteLLM" in type(model).__name__ and isinstance(model_id, str) and "/" in model_id:
        return model_id.split("/", 1)[0]
    return None


def agent_record(agent: Any, task: Any, capture: bool) -> AgentInvocation:
    """``invoke_agent`` for one run of a ``ToolCallingAgent`` / ``CodeAgent`` (managed agents included)."""
    model = getattr(agent, "model", None)
    inv = AgentInvocation(
        agent_name=getattr(agent, "name", None),
        agent_description=getattr(agent, "description", None),
        request_model=getattr(model, "model_id", None),
        provider=provider_of(model),
    )
    if capture and isinstance(task, str):
        inv.input_messages = [message("user", text_parts(task))]
    return inv


def agent_output(inv: AgentInvocation, output: Any, capture: bool) -> None:
    if capture and output is not None:
        inv.output_messages = [message("assistant", text_parts(_text(output)), "stop")]


def chat_record(model: Any, args: tuple, kwargs: dict, capture: bool) -> InferenceInvocation:
    """``chat`` for one ``generate`` / ``generate_stream`` call: the model, its settings and (content) the
    messages, system prompt and tool definitions."""
    settings = {**(getattr(model, "kwargs", None) or {}), **kwargs}
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        request_model=getattr(model, "model_id", None),
        provider=provider_of(model),
        guessed=frozenset({"provider"}),
        owns_client_calls=True,
        stop_sequences=_argument(args, kwargs, 1, "stop_sequences") or None,
        output_type="json" if _argument(args, kwargs, 2, "response_format") else None,
    )
    # Settings smolagents forwards to the provider (``Model(**kwargs)`` or per call).
    for key, field in OPENAI_REQUEST_SETTINGS.items():
        if isinstance(settings.get(key), (int, float)) and getattr(inv, field) is None:
            setattr(inv, field, settings[key])
    if capture:
        messages = _argument(args, kwargs, 0, "messages") or []
        split_system(inv, messages, _role, lambda m: get(m, "content"), message_json)
        tools = _argument(args, kwargs, 3, "tools_to_call_from") or []
        inv.tool_definitions = [_tool_definition(tool) for tool in tools] or None
    return inv


def chat_response(inv: InferenceInvocation, reply: Any, capture: bool) -> None:
    """A ``ChatMessage``: its usage, and from the provider's raw response (when smolagents kept it) the
    response id, model and finish reason. The client call merged into ``inv`` knows these exactly and wins."""
    usage = getattr(reply, "token_usage", None)
    raw = getattr(reply, "raw", None)
    choices = get(raw, "choices") or []
    reason = get(choices[0], "finish_reason") if choices else None
    fill(
        inv,
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        response_id=get(raw, "id") if isinstance(get(raw, "id"), str) else None,
        response_model=get(raw, "model") if isinstance(get(raw, "model"), str) else None,
        finish_reasons=[reason] if isinstance(reason, str) else None,
    )
    if capture:
        inv.output_messages = [message_json(reply, inv.finish_reasons[0] if inv.finish_reasons else "stop")]


def tool_record(tool: Any, args: tuple, kwargs: dict, call_id: str | None, capture: bool) -> ToolInvocation:
    inv = ToolInvocation(
        tool_name=getattr(tool, "name", None),
        tool_description=getattr(tool, "description", None),
        tool_type="function",
        tool_call_id=call_id,
    )
    if capture:
        arguments = {k: v for k, v in kwargs.items() if k != "sanitize_inputs_outputs"}
        inv.arguments = json_or_text(arguments if arguments or not args else list(args))
    return inv


def tool_result(inv: ToolInvocation, result: Any, capture: bool) -> None:
    if capture:
        inv.result = result if isinstance(result, (str, int, float, bool)) else _text(result)


def message_json(msg: Any, finish_reason: str | None = None) -> dict[str, Any]:
    """A smolagents ``ChatMessage`` (or its dict form) as GenAI message JSON."""
    role = _role(msg)
    parts = text_parts(get(msg, "content"))
    for call in get(msg, "tool_calls") or ():
        function = get(call, "function")
        parts.append(
            tool_call(get(call, "id"), get(function, "name"), json_or_text(get(function, "arguments")))
        )
    return message(ROLES.get(role, role), parts, finish_reason)


def _role(msg: Any) -> str:
    role = get(msg, "role")
    return str(getattr(role, "value", role) or "user")


def _argument(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _tool_definition(tool: Any) -> dict[str, Any]:
    from smolagents.models import get_tool_json_schema

    function = get_tool_json_schema(tool)["function"]
    return {"type": "function", **function}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
