"""Agent and tool spans for your own code, and the agent loop guard.

    @genai_otel.agent("planner", description="Breaks a task into steps")
    def plan(task): ...

    async with genai_otel.agent("researcher", conversation_id=session_id) as run:
        ...

    @genai_otel.tool("search_docs")
    def search_docs(query: str) -> list[str]: ...

Both work as decorators (sync, async, generator and async generator functions) and as sync or
async context managers. An agent span carries ``gen_ai.agent.*`` plus the agent path and hop count,
which travel to other services as baggage (see :mod:`genai_otel.propagation`), so the loop guard
can count agent hops along a whole distributed trace and model/tool calls per agent invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from genai_otel import semconv
from genai_otel.telemetry.agent_runs import AgentLoopError, current_agent_path
from genai_otel.telemetry.invocation import AgentInvocation, Invocation, ToolInvocation
from genai_otel.telemetry.record_scope import RecordScope

__all__ = ["AgentLoopError", "agent", "current_agent_path", "tool"]


def agent(
    name: str | Callable[..., Any] | None = None,
    *,
    operation: str = semconv.OPERATION_INVOKE_AGENT,
    agent_id: str | None = None,
    description: str | None = None,
    version: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    conversation_id: str | None = None,
    remote: bool = False,
) -> Any:
    """An ``invoke_agent`` (or ``create_agent`` / ``invoke_workflow``) span, as decorator or context manager.

    ``remote=True`` makes the span CLIENT (calling an agent in another service); in-process agents
    are INTERNAL. ``conversation_id`` is set on the span and propagated as baggage, so model and
    tool spans beneath it -- in this process and downstream services -- carry it too.
    """
    fn = name if callable(name) else None
    label = None if callable(name) else name
    fields = _given(
        AgentInvocation,
        operation=operation,
        agent_name=label,
        agent_id=agent_id,
        agent_description=description,
        agent_version=version,
        provider=provider,
        request_model=model,
        conversation_id=conversation_id,
        kind=SpanKind.CLIENT if remote else SpanKind.INTERNAL,
    )
    scope = RecordScope(AgentInvocation, fields, "agent_name", label)
    return scope(fn) if fn is not None else scope


def tool(
    name: str | Callable[..., Any] | None = None,
    *,
    description: str | None = None,
    tool_type: str = "function",
    call_id: str | None = None,
) -> Any:
    """An ``execute_tool`` span, as decorator or context manager. Under content capture the
    decorated function's arguments and result are recorded. Counts as a step of the current agent."""
    fn = name if callable(name) else None
    label = None if callable(name) else name
    fields = _given(
        ToolInvocation,
        tool_name=label,
        tool_description=description,
        tool_type=tool_type,
        tool_call_id=call_id,
    )
    scope = RecordScope(ToolInvocation, fields, "tool_name", label)
    return scope(fn) if fn is not None else scope


def _given(record: type[Invocation], **values: Any) -> dict[str, Any]:
    """The ``values`` that differ from ``record``'s defaults: a record is made on every call, and made
    from fewer keywords it costs less."""
    return {field: value for field, value in values.items() if value != getattr(record, field)}
