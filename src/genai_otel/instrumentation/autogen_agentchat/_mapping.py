"""AutoGen objects (agents, teams, model clients, tools, messages) -> GenAI records.

Read by duck typing: nothing of AutoGen is imported here; the attributes read are those of AutoGen
0.7 (``name``/``description`` of agents and teams, ``_model_client``, ``_system_messages`` and
``_tools`` of an ``AssistantAgent``, ``_create_args`` of the OpenAI clients).
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

# gen_ai.provider.name by AutoGen model client class (autogen_ext.models.*).
_PROVIDERS = {
    "OpenAIChatCompletionClient": "openai",
    "AzureOpenAIChatCompletionClient": "azure.ai.openai",
    "AnthropicChatCompletionClient": "anthropic",
    "AnthropicBedrockChatCompletionClient": "aws.bedrock",
    "OllamaChatCompletionClient": "ollama",
    "AzureAIChatCompletionClient": "azure.ai.inference",
}
# Teams whose next speaker is decided by a model or by the agents themselves (hand-offs, an
# orchestrator): a conversation turn from their entry agent; the others run a flow the app defined.
_STEERED_TEAMS = frozenset({"Swarm", "MagenticOneGroupChat"})
# CreateResult.finish_reason -> the conventions' values.
_FINISH_REASONS = {"function_calls": "tool_calls", "unknown": "error"}


def provider_of(client: Any) -> str | None:
    return _PROVIDERS.get(type(client).__name__)


def model_of(client: Any) -> str | None:
    args = getattr(client, "_create_args", None)
    model = args.get("model") if isinstance(args, dict) else None
    return model if isinstance(model, str) else None


# -- agents and teams ---------------------------------------------------------------------------


def agent_record(agent: Any, capture: bool, agent_id: str | None = None) -> AgentInvocation:
    """``invoke_agent {name}``; provider and model when the agent has its one model client."""
    inv = AgentInvocation(
        agent_name=_text(getattr(agent, "name", None)),
        agent_description=_text(getattr(agent, "description", None)) or None,
        agent_id=agent_id,
    )
    client = getattr(agent, "_model_client", None)
    if client is not None:
        inv.provider = provider_of(client)
        inv.request_model = model_of(client)
    if capture:
        system = [p for m in getattr(agent, "_system_messages", None) or () for p in text_parts(m.content)]
        inv.system_instructions = system or None
        tools = [*(getattr(agent, "_tools", None) or ()), *(getattr(agent, "_handoff_tools", None) or ())]
        inv.tool_definitions = tool_definitions(tools) or None
    return inv


def team_record(team: Any) -> AgentInvocation:
    """``invoke_workflow {team}``, or ``handle_conversation_turn {entry agent}`` for a steered team."""
    conversation = getattr(team, "_team_id", None)
    inv = AgentInvocation(conversation_id=conversation if isinstance(conversation, str) else None)
    if type(team).__name__ in _STEERED_TEAMS:
        participants = getattr(team, "_participants", None) or ()
        inv.operation = semconv.OPERATION_HANDLE_CONVERSATION_TURN
        inv.agent_name = _text(getattr(participants[0], "name", None)) if participants else None
    else:
        inv.operation = semconv.OPERATION_INVOKE_WORKFLOW
        inv.workflow_name = _text(getattr(team, "name", None)) or type(team).__name__
    return inv


def task_messages(task: Any) -> list[dict[str, Any]]:
    """A ``run(task=...)``: a string, a chat message, or a list of them."""
    if task is None:
        return []
    if isinstance(task, str):
        return [message("user", text_parts(task))]
    items = task if isinstance(task, (list, tuple)) else [task]
    return [chat_message(m, "user") for m in items]


def chat_message(msg: Any, role: str) -> dict[str, Any]:
    """An AgentChat message (``TextMessage``, ``ToolCallSummaryMessage``, ...) as text."""
    to_text = getattr(msg, "to_model_text", None) or getattr(msg, "to_text", None)
    return message(role, text_parts(to_text() if callable(to_text) else _text(msg)))


def result_messages(result: Any) -> list[dict[str, Any]] | None:
    """The answer of a ``TaskResult`` (its last message) or a ``Response`` (its chat message)."""
    last = getattr(result, "chat_message", None)
    if last is None:
        messages = getattr(result, "messages", None) or ()
        last = messages[-1] if messages else None
    return [chat_message(last, "assistant")] if last is not None else None


# -- model calls ------------------------------------------------------------------------------------


def chat_record(client: Any, messages: Any, tools: Any, capture: bool) -> InferenceInvocation:
    """``chat {model}`` for a model client's ``create``/``create_stream``; owns the SDK call inside."""
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=provider_of(client) or "autogen",
        request_model=model_of(client),
        owns_client_calls=True,
    )
    args = getattr(client, "_create_args", None)
    if isinstance(args, dict):
        for name, field_name in OPENAI_REQUEST_SETTINGS.items():
            if args.get(name) is not None:
                setattr(inv, field_name, args[name])
        stop = args.get("stop")
        inv.stop_sequences = [stop] if isinstance(stop, str) else stop
    if capture:
        llm_messages = list(messages or ())
        system = [p for m in llm_messages if _kind(m) == "SystemMessage" for p in text_parts(m.content)]
        inv.system_instructions = system or None
        inv.input_messages = [llm_message(m) for m in llm_messages if _kind(m) != "SystemMessage"]
        inv.tool_definitions = tool_definitions(tools or ()) or None
    return inv


def llm_message(msg: Any) -> dict[str, Any]:
    """An ``autogen_core.models`` message (what a model client is sent)."""
    kind, content = _kind(msg), getattr(msg, "content", None)
    if kind == "FunctionExecutionResultMessage":
        return message("tool", [tool_response(r.call_id, r.content) for r in content or ()])
    if kind == "AssistantMessage":
        return message("assistant", _content_parts(content, getattr(msg, "thought", None)))
    return message("user", _content_parts(content, None))


def on_create_result(inv: InferenceInvocation, result: Any, capture: bool) -> None:
    """Copy a ``CreateResult`` into the record; the merged SDK call's exact values win."""
    reason = getattr(result, "finish_reason", None)
    reason = _FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else None
    usage = getattr(result, "usage", None)
    fill(
        inv,
        finish_reasons=[reason] if reason else None,
        # 0: AutoGen's value when the provider reported no usage (a stream asked without it).
        input_tokens=getattr(usage, "prompt_tokens", None) or None,
        output_tokens=getattr(usage, "completion_tokens", None) or None,
    )
    if capture:
        content = getattr(result, "content", None)
        inv.output_messages = [
            message("assistant", _content_parts(content, getattr(result, "thought", None)), reason)
        ]


# -- tools ------------------------------------------------------------------------------------------


def tool_record(tool: Any, args: Any, call_id: Any, capture: bool) -> ToolInvocation:
    inv = ToolInvocation(
        tool_name=_text(getattr(tool, "name", None)),
        tool_description=_text(getattr(tool, "description", None)) or None,
        tool_call_id=call_id if isinstance(call_id, str) else None,
        tool_type="function",
    )
    if capture and args is not None:
        inv.arguments = dict(args)
    return inv


def tool_result(tool: Any, value: Any) -> str:
    """What the model is told the tool returned (AutoGen's own rendering of the value)."""
    as_string = getattr(tool, "return_value_as_string", None)
    return as_string(value) if callable(as_string) else str(value)


def framework_record(operation: str, args: tuple, kwargs: dict) -> AgentInvocation | ToolInvocation:
    """A record from the arguments of AutoGen's ``trace_tool_span`` / ``trace_invoke_agent_span``."""
    if operation == "tool":
        return ToolInvocation(
            tool_name=args[0] if args else kwargs.get("tool_name"),
            tool_description=kwargs.get("tool_description"),
            tool_call_id=kwargs.get("tool_call_id"),
            tool_type="function",
        )
    return AgentInvocation(
        agent_name=args[0] if args else kwargs.get("agent_name"),
        agent_id=kwargs.get("agent_id"),
        agent_description=kwargs.get("agent_description"),
    )


def tool_definitions(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """``Tool`` objects (their ``schema``) or ``ToolSchema`` dicts as tool definitions."""
    definitions = []
    for tool in tools:
        schema = tool if isinstance(tool, dict) else getattr(tool, "schema", None)
        if isinstance(schema, dict):
            definitions.append(
                function_definition(schema.get("name"), schema.get("description"), schema.get("parameters"))
            )
    return definitions


# -- helpers ----------------------------------------------------------------------------------------


def _kind(msg: Any) -> str:
    return type(msg).__name__


def _content_parts(content: Any, thought: Any) -> list[dict[str, Any]]:
    """A model message's content: text, multimodal items, or the ``FunctionCall`` list of a tool call."""
    parts = [{"type": "reasoning", "content": thought}] if isinstance(thought, str) and thought else []
    if isinstance(content, list) and content and all(_kind(c) == "FunctionCall" for c in content):
        return parts + [tool_call(c.id, c.name, _arguments(c.arguments)) for c in content]
    if isinstance(content, list):  # multimodal: the text items (images are not recorded)
        return parts + [p for item in content if isinstance(item, str) for p in text_parts(item)]
    return parts + text_parts(_text(content))


def _arguments(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
