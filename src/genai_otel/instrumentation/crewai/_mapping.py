"""CrewAI objects and events -> invocation records. No telemetry logic here."""

from __future__ import annotations

import json
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    function_definition,
    message,
    split_system,
    text_parts,
    tool_call,
)
from genai_otel.instrumentation._openai_compatible import chat_input_messages, tool_definitions
from genai_otel.instrumentation._providers import LITELLM_PROVIDERS as PROVIDERS
from genai_otel.instrumentation._util import get, server_of_url
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: Ending events that close their run as it is.
PLAIN_ENDS = frozenset({"task_completed", "flow_finished", "method_execution_finished"})
#: Ending events of failed runs.
FAILURES = frozenset(
    {
        "crew_kickoff_failed",
        "task_failed",
        "agent_execution_error",
        "lite_agent_execution_error",
        "flow_failed",
        "method_execution_failed",
        "llm_call_failed",
        "tool_usage_error",
    }
)
_HIERARCHICAL = "hierarchical"


def is_agent_executor(source: Any) -> bool:
    """CrewAI runs an agent's loop as a flow of its own (``AgentExecutor``): plumbing, not a workflow."""
    return any(cls.__name__ == "BaseAgentExecutor" for cls in type(source).__mro__)


def crew_record(crew: Any, event: Any) -> AgentInvocation:
    """A sequential crew is a workflow (the app orders the tasks); a hierarchical one a conversation turn
    its manager agent steers."""
    name = getattr(event, "crew_name", None) or getattr(crew, "name", None)
    process = getattr(getattr(crew, "process", None), "value", None)
    if process == _HIERARCHICAL:
        # The app's own manager agent is known now; the one CrewAI makes from manager_llm only later.
        manager = getattr(getattr(crew, "manager_agent", None), "role", None)
        return AgentInvocation(
            operation=semconv.OPERATION_HANDLE_CONVERSATION_TURN,
            agent_name=manager,
            workflow_name=None if manager else name,
        )
    return AgentInvocation(operation=semconv.OPERATION_INVOKE_WORKFLOW, workflow_name=name)


def flow_record(event: Any) -> AgentInvocation:
    return AgentInvocation(operation=semconv.OPERATION_INVOKE_WORKFLOW, workflow_name=event.flow_name)


def llm_provider_and_model(llm: Any) -> tuple[str | None, str | None]:
    """CrewAI's LLM: its provider (``openai``, ``anthropic``, or litellm's for ``LLM(model="x/y")``)
    and the model without a provider prefix."""
    model = getattr(llm, "model", None)
    if not isinstance(model, str):
        return None, None
    provider = getattr(llm, "provider", None)
    prefix, _, rest = model.partition("/")
    if rest and (provider is None or prefix == provider):
        provider, model = prefix, rest
    return (PROVIDERS.get(provider, provider) if isinstance(provider, str) else None), model


def agent_record(agent: Any) -> AgentInvocation:
    provider, model = llm_provider_and_model(getattr(agent, "llm", None))
    agent_id = getattr(agent, "id", None)
    return AgentInvocation(
        agent_name=getattr(agent, "role", None),
        agent_id=str(agent_id) if agent_id is not None else None,
        agent_description=getattr(agent, "goal", None) or None,
        provider=provider,
        request_model=model,
    )


def agent_content(inv: AgentInvocation, agent: Any, event: Any) -> None:
    """The agent's backstory (its standing instructions), task prompt (or the messages it was kicked off
    with) and tools."""
    backstory = getattr(agent, "backstory", None)
    inv.system_instructions = text_parts(backstory) or None
    messages = getattr(event, "messages", None)
    if isinstance(messages, list):
        inv.input_messages = chat_input_messages(messages)
    else:
        inv.input_messages = [message("user", text_parts(getattr(event, "task_prompt", None) or messages))]
    tools = getattr(event, "tools", None) or getattr(agent, "tools", None) or ()
    inv.tool_definitions = [_tool_definition(t) for t in tools] or None


def _tool_definition(tool: Any) -> dict[str, Any]:
    schema = getattr(tool, "args_schema", None)
    try:
        parameters = schema.model_json_schema() if schema is not None else None
    except Exception:  # a schema pydantic cannot render: the definition goes without it
        parameters = None
    return function_definition(getattr(tool, "name", None), getattr(tool, "description", None), parameters)


def llm_request(llm: Any, event: Any) -> InferenceInvocation:
    provider, model = llm_provider_and_model(llm)
    host, port = server_of_url(getattr(llm, "base_url", None) or getattr(llm, "api_base", None))
    stop = getattr(event, "stop_sequences", None)
    return InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=provider,
        request_model=model or getattr(event, "model", None),
        server_address=host,
        server_port=port,
        temperature=getattr(event, "temperature", None),
        top_p=getattr(event, "top_p", None),
        max_tokens=_int(getattr(event, "max_tokens", None)),
        stop_sequences=list(stop) if stop else None,
        seed=getattr(event, "seed", None),
        frequency_penalty=getattr(event, "frequency_penalty", None),
        presence_penalty=getattr(event, "presence_penalty", None),
        choice_count=getattr(event, "n", None),
        stream=True if getattr(event, "stream", None) else None,
        owns_client_calls=True,
    )


def llm_input(inv: InferenceInvocation, event: Any) -> None:
    messages = getattr(event, "messages", None)
    if isinstance(messages, str):
        inv.input_messages = [message("user", text_parts(messages))]
    elif messages:
        split_system(inv, messages, lambda m: get(m, "role"), lambda m: get(m, "content"), _message)
    inv.tool_definitions = tool_definitions(getattr(event, "tools", None))


def _message(msg: Any) -> dict[str, Any]:
    return chat_input_messages([msg])[0]


def llm_result(inv: InferenceInvocation, event: Any, capture: bool) -> None:
    """Usage, finish reason and response id as CrewAI reports them (a merged client call knows better)."""
    usage = getattr(event, "usage", None) or {}
    reason = getattr(event, "finish_reason", None)
    fill(
        inv,
        input_tokens=_int(get(usage, "prompt_tokens") or get(usage, "input_tokens")),
        output_tokens=_int(get(usage, "completion_tokens") or get(usage, "output_tokens")),
        response_id=getattr(event, "response_id", None),
        finish_reasons=[reason] if reason else None,
    )
    if capture:
        inv.output_messages = [_response_message(getattr(event, "response", None), reason)]


def _response_message(response: Any, reason: str | None) -> dict[str, Any]:
    """CrewAI's response: the text, or the tool calls the model asked for."""
    if isinstance(response, list):
        parts = [
            tool_call(
                get(call, "id"), get(get(call, "function"), "name"), get(get(call, "function"), "arguments")
            )
            for call in response
        ]
        return message("assistant", parts, reason)
    return message(
        "assistant", text_parts(response if isinstance(response, str) else json.dumps(response)), reason
    )


def tool_record(source: Any, event: Any) -> ToolInvocation:
    return ToolInvocation(
        tool_name=getattr(event, "tool_name", None),
        tool_description=_tool_description(source, event),
        tool_type="function",
    )


def _tool_description(source: Any, event: Any) -> str | None:
    """The tool's own description, from the agent's tools (the event names the tool only)."""
    agent = getattr(event, "agent", None) or getattr(source, "agent", None)
    tools = [*(getattr(source, "original_tools", None) or ()), *(getattr(agent, "tools", None) or ())]
    for tool in tools:
        if getattr(tool, "name", None) == event.tool_name:
            return getattr(tool, "description", None) or None
    return None


def tool_failure_type(failure: Any) -> str | None:
    """``error.type`` of a failure a tool reported: the exception's class when it raised, else the
    failure's category (``ToolFailure``, or the ``ToolFailureRecord`` around one)."""
    failure = getattr(failure, "failure", failure)
    if failure is None:
        return None
    reason = getattr(failure, "reason", None)
    return getattr(failure, "code", None) or str(getattr(reason, "value", reason) or "tool_failure")


def inputs_message(inputs: Any) -> list[dict[str, Any]] | None:
    """A crew's or flow's kickoff inputs as the user message."""
    if not inputs:
        return None
    return [message("user", text_parts(json.dumps(inputs, default=str, ensure_ascii=False)))]


def output_message(output: Any) -> list[dict[str, Any]] | None:
    """A crew's, flow's or agent's final output (``CrewOutput.raw`` or text) as the assistant message."""
    if output is None:
        return None
    text = getattr(output, "raw", output)
    return [message("assistant", text_parts(text if isinstance(text, str) else str(text)))]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
