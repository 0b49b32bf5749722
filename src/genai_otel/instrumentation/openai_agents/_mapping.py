"""OpenAI Agents SDK span data -> invocation records: what each SDK span type becomes, and the details
(model settings, usage, messages, tool arguments) read from its data when it ends.

The SDK names span types by a string (``span_data.type``), which is what is matched here: the classes
behind them moved between SDK versions, the strings did not.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import message, split_system, text_parts
from genai_otel.instrumentation._openai_compatible import (
    chat_input_messages,
    tool_call_part,
    tool_definitions,
)
from genai_otel.instrumentation._openai_responses import response_result, responses_input
from genai_otel.instrumentation._util import get, json_or_text, number, server_of_url
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: SDK span types that become a model call, an agent, a tool call.
MODEL_CALLS = frozenset({"generation", "response"})
AGENT = "agent"
TOOL = "function"
#: One ``Runner.run``: the conversation turn (the SDK's own ``turn`` is one step of the agent loop).
TASK = "task"
HANDOFF = "handoff"
#: SDK spans shown as plain internal spans, named by :func:`internal_span_name`.
INTERNAL = frozenset({HANDOFF, "guardrail", "custom"})
# Everything else (``turn``, ``mcp_tools``, speech and transcription, types of later SDK versions) is
# folded into its parent: a turn is plumbing of the agent span, the MCP SDK traces its own tool listing,
# voice pipelines make their model calls through instrumented clients.

# The SDK's OpenAI models; a merged client call names the provider exactly (LiteLLM models included).
_PROVIDER = "openai"
#: ``AgentSpanData.output_type`` is a Python type name: ``str`` is plain text, anything else structured.
_TEXT_OUTPUT = "str"


def conversation_turn(conversation_id: str | None, agent_name: str | None) -> AgentInvocation:
    return AgentInvocation(
        operation=semconv.OPERATION_HANDLE_CONVERSATION_TURN,
        agent_name=agent_name,
        conversation_id=conversation_id,
    )


def agent(data: Any, conversation_id: str | None) -> AgentInvocation:
    output_type = get(data, "output_type")
    return AgentInvocation(
        agent_name=get(data, "name"),
        conversation_id=conversation_id,
        output_type=None if output_type is None else ("text" if output_type == _TEXT_OUTPUT else "json"),
    )


def model_call(data: Any, conversation_id: str | None) -> InferenceInvocation:
    """A generation (chat completions) or response (Responses API) span; the client call made inside
    merges into it, so what the client knows exactly (model, usage, response id, server) wins."""
    config = get(data, "model_config") or {}
    host, port = server_of_url(get(config, "base_url"))
    return InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=_PROVIDER,
        guessed=frozenset({"provider"}),
        request_model=get(data, "model"),
        server_address=host,
        server_port=port,
        conversation_id=conversation_id,
        temperature=number(get(config, "temperature")),
        top_p=number(get(config, "top_p")),
        max_tokens=get(config, "max_tokens"),
        frequency_penalty=number(get(config, "frequency_penalty")),
        presence_penalty=number(get(config, "presence_penalty")),
        owns_client_calls=True,
    )


def tool(data: Any, conversation_id: str | None) -> ToolInvocation:
    return ToolInvocation(tool_name=get(data, "name"), tool_type="function", conversation_id=conversation_id)


def internal_span_name(data: Any) -> str:
    """``handoff``, ``guardrail {name}``, or a custom span's own name."""
    kind = get(data, "type")
    if kind == "custom":
        return str(get(data, "name") or kind)
    name = get(data, "name")
    return f"{kind} {name}" if name else str(kind)


def handoff_name(data: Any) -> str | None:
    """The hand-off span's final name, once the SDK knows the agent handed to."""
    target = get(data, "to_agent")
    return f"handoff {target}" if target else None


# -- when a span ends ---------------------------------------------------------------------------


def finish_model_call(inv: InferenceInvocation, data: Any, capture: bool) -> None:
    if get(data, "type") == "response":
        _response(inv, data, capture)
    else:
        _generation(inv, data, capture)


def _generation(inv: InferenceInvocation, data: Any, capture: bool) -> None:
    usage = get(data, "usage") or {}
    fill(inv, input_tokens=get(usage, "input_tokens"), output_tokens=get(usage, "output_tokens"))
    # Without trace_include_sensitive_data the SDK keeps no input or output: nothing to record then.
    messages, outputs = list(get(data, "input") or ()), list(get(data, "output") or ())
    if not capture or not messages:
        return
    split_system(inv, messages, lambda m: get(m, "role"), lambda m: get(m, "content"), _input_message)
    reasons = inv.finish_reasons or []
    inv.output_messages = [
        _output_message(m, reasons[i] if i < len(reasons) else None) for i, m in enumerate(outputs)
    ] or None


def _input_message(msg: Any) -> dict[str, Any]:
    return chat_input_messages([msg])[0]


def _output_message(msg: Any, finish_reason: str | None) -> dict[str, Any]:
    calls = get(msg, "tool_calls") or ()
    parts = text_parts(get(msg, "content")) + [tool_call_part(c) for c in calls]
    return message("assistant", parts, finish_reason or ("tool_calls" if calls else "stop"))


def _response(inv: InferenceInvocation, data: Any, capture: bool) -> None:
    response = get(data, "response")
    if capture and get(data, "input"):
        inv.input_messages = responses_input(get(data, "input"))
        instructions = get(response, "instructions")
        if isinstance(instructions, str) and instructions:
            inv.system_instructions = text_parts(instructions)
        inv.tool_definitions = tool_definitions(get(response, "tools"))
    if response is not None:
        # The same response object the client call read (and merged): only content is new here. Without
        # a merged client call the request's model is unknown: the model that answered stands for it.
        response_result(inv, response)
        fill(inv, request_model=inv.response_model)


def finish_agent(inv: AgentInvocation, data: Any, capture: bool) -> None:
    """The agent's tools are known only once it ran; a model call's full definitions win over names."""
    if capture and inv.tool_definitions is None:
        names = list(get(data, "tools") or ())
        inv.tool_definitions = [{"type": "function", "name": name} for name in names] or None


def finish_tool(inv: ToolInvocation, data: Any, capture: bool) -> None:
    if capture:
        inv.arguments = json_or_text(get(data, "input"))
        inv.result = get(data, "output")


def pass_up(child: InferenceInvocation, parent: AgentInvocation, handler: Any) -> None:
    """What an agent (or conversation turn) learns from the calls made directly in it: its first
    call's input and instructions, its last call's output; an agent also its model (the SDK runs each
    agent on one model)."""
    if parent.input_messages is None:
        parent.input_messages = child.input_messages
    if child.output_messages:
        parent.output_messages = child.output_messages
    if parent.operation != semconv.OPERATION_INVOKE_AGENT or isinstance(child, AgentInvocation):
        return
    parent.system_instructions = parent.system_instructions or child.system_instructions
    parent.tool_definitions = parent.tool_definitions or child.tool_definitions
    if parent.request_model is None and child.request_model is not None:
        handler.update_request(parent, request_model=child.request_model, provider=child.provider)
