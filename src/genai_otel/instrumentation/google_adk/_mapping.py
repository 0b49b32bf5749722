"""ADK objects -> invocation records: runner turns, agents, workflow agents, model calls, tool calls.

ADK's requests and responses carry google-genai types (``Content``, ``GenerateContentConfig``, usage
metadata), so they are read with the google-genai mapping. No telemetry logic here.
"""

from __future__ import annotations

import os
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation import _gemini as gemini
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import function_definition, message
from genai_otel.instrumentation._providers import LITELLM_PROVIDERS
from genai_otel.instrumentation._util import get
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

#: ADK's agents whose control flow the application defines: ``invoke_workflow`` spans.
WORKFLOW_AGENTS = frozenset({"SequentialAgent", "ParallelAgent", "LoopAgent"})


def _class_names(obj: Any) -> set[str]:
    return {cls.__name__ for cls in type(obj).__mro__}


def _gemini_provider() -> str:
    # google-genai picks Vertex AI from this variable when the model object does not say otherwise.
    use_vertex = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower() in ("1", "true", "yes")
    return "gcp.vertex_ai" if use_vertex else "gcp.gemini"


def model_facts(llm: Any) -> tuple[str | None, str | None]:
    """``(provider, model)`` of an ADK model (``BaseLlm``: ``Gemini``, ``LiteLlm``, ``Claude``...)."""
    name = get(llm, "model")
    if not isinstance(name, str):
        return None, None
    classes = _class_names(llm)
    if "Gemini" in classes:
        return _gemini_provider(), name
    if "LiteLlm" in classes:
        prefix, _, rest = name.partition("/")
        return (LITELLM_PROVIDERS.get(prefix, prefix), rest) if rest else (None, name)
    if "AnthropicLlm" in classes:
        return ("gcp.vertex_ai" if "Claude" in classes else "anthropic"), name
    return None, name


def _agent_model(agent: Any) -> Any:
    """The model an ``LlmAgent`` runs (its own or the one it inherits; ADK resolves a model name to its
    ``BaseLlm``), ``None`` for other agents."""
    if "LlmAgent" not in _class_names(agent):
        return None
    try:
        return agent.canonical_model
    except Exception:  # no model anywhere up the tree: ADK raises when it runs
        return None


def turn(entrypoint: Any, conversation_id: Any) -> AgentInvocation:
    """``Runner.run_async`` (and ``run``): one conversation turn entered at the root agent."""
    return AgentInvocation(
        operation=semconv.OPERATION_HANDLE_CONVERSATION_TURN,
        agent_name=get(entrypoint, "name") or None,
        agent_description=get(entrypoint, "description") or None,
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
    )


def workflow(name: Any, conversation_id: Any) -> AgentInvocation:
    """A graph workflow (``google.adk.workflow.Workflow``) run inside another."""
    return AgentInvocation(
        operation=semconv.OPERATION_INVOKE_WORKFLOW,
        workflow_name=name if isinstance(name, str) and name else None,
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
    )


def agent_run(invocation_context: Any, agent: Any, capture: bool) -> AgentInvocation:
    """An agent's run: ``invoke_workflow`` for ADK's workflow agents, else ``invoke_agent`` with the
    agent's model when it has one."""
    name = get(agent, "name") or None
    session = get(invocation_context, "session")
    inv = AgentInvocation(
        agent_name=name,
        agent_description=get(agent, "description") or None,
        conversation_id=get(session, "id"),
    )
    if _class_names(agent) & WORKFLOW_AGENTS:
        inv.operation = semconv.OPERATION_INVOKE_WORKFLOW
        inv.workflow_name, inv.agent_name = name, None
        return inv
    inv.provider, inv.request_model = model_facts(_agent_model(agent))
    if capture:
        instruction = get(agent, "instruction")
        if isinstance(instruction, str) and instruction:  # a callable InstructionProvider is not content
            inv.system_instructions = [{"type": "text", "content": instruction}]
        user_content = get(invocation_context, "user_content")
        if user_content is not None:
            inv.input_messages = gemini.contents([user_content])
    return inv


def model_call(llm_request: Any, invocation_context: Any, capture: bool) -> InferenceInvocation:
    """One model call of an agent (``LlmRequest``): it owns the client SDK call made beneath it."""
    agent = get(invocation_context, "agent")
    provider, _ = model_facts(_agent_model(agent)) if agent is not None else (None, None)
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT,
        provider=provider,
        request_model=get(llm_request, "model"),
        conversation_id=get(get(invocation_context, "session"), "id"),
        owns_client_calls=True,
        # The client knows whether it talks to the Gemini API or Vertex AI.
        guessed=frozenset({"provider"}),
    )
    config = get(llm_request, "config")
    gemini.apply_config(inv, config)
    if capture:
        inv.input_messages = gemini.contents(get(llm_request, "contents") or [])
        system = get(config, "system_instruction")
        if system:
            inv.system_instructions = [p for m in gemini.contents(system) for p in m["parts"]]
        inv.tool_definitions = _tool_definitions(config) or None
    return inv


def _tool_definitions(config: Any) -> list[dict[str, Any]]:
    definitions = []
    for tool in get(config, "tools") or ():
        for declaration in get(tool, "function_declarations") or ():
            schema = get(declaration, "parameters_json_schema") or get(declaration, "parameters")
            if hasattr(schema, "model_dump"):
                schema = schema.model_dump(exclude_none=True, mode="json")
            definitions.append(
                function_definition(get(declaration, "name"), get(declaration, "description"), schema)
            )
    return definitions


def is_final(llm_response: Any) -> bool:
    """The response that ends a model call: complete (not a streamed chunk) and saying why it stopped.
    In a stream ADK sends it after the last chunk, once the client's stream is consumed."""
    return not get(llm_response, "partial") and get(llm_response, "finish_reason") is not None


def model_response(inv: InferenceInvocation, llm_response: Any, now_ns: int, capture: bool) -> None:
    """An ``LlmResponse``: chunk timing for streamed ones; usage, model and finish reason (what the
    merged client call reported wins) and the output message for the final one."""
    if get(llm_response, "partial"):
        inv.stream = True
        inv.first_chunk_ns = inv.first_chunk_ns or now_ns
        inv.last_chunk_ns = now_ns
        inv.chunk_count += 1
        return
    usage = get(llm_response, "usage_metadata")
    if usage is not None and inv.input_tokens is None:
        gemini.usage(inv, usage)
    reason = get(llm_response, "finish_reason")
    fill(
        inv,
        response_model=get(llm_response, "model_version"),
        finish_reasons=[gemini.reason(reason)] if reason is not None else None,
    )
    content = get(llm_response, "content")
    if capture and content is not None:
        parts = [gemini.part(p) for p in get(content, "parts") or ()]
        inv.output_messages = [message("assistant", parts, gemini.reason(reason) if reason else None)]


def tool_call(tool: Any, function_args: Any, capture: bool) -> ToolInvocation:
    inv = ToolInvocation(
        tool_name=get(tool, "name"),
        tool_description=get(tool, "description") or None,
        tool_type="function",  # ADK declares every tool to the model as a function
    )
    if capture:
        inv.arguments = function_args
    return inv


def tool_response(function_response_event: Any) -> tuple[str | None, Any]:
    """``(tool call id, result)`` from the event ADK built of the tool's return value."""
    parts = get(get(function_response_event, "content"), "parts") or ()
    response = get(parts[0], "function_response") if parts else None
    if response is None:
        return None, None
    return get(response, "id"), get(response, "response")
