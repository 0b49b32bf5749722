"""Strands' tracer (``strands.telemetry.tracer.Tracer``) driven into genai-otel's records.

Strands asks its tracer for a span at each step (agent, event-loop cycle, model call, tool call,
swarm/graph) and hands it back to an ``end_*`` method with the outcome. :class:`StrandsBridge` answers
those calls instead: each start opens a record through :class:`RunTracker` (parented by the span Strands
names as parent) and returns a :class:`StrandsSpan` standing for it; each end fills the record and
closes it. Strands' own span attributes (its pre-convention names, content it would record whatever
genai-otel's content setting says) never reach a span.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext
from opentelemetry.util.types import Attributes, AttributeValue

from genai_otel import semconv
from genai_otel.instrumentation._framework import RunTracker, fill
from genai_otel.instrumentation.strands import _mapping as m
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation


@dataclass(eq=False)
class RunningStream:
    """The stream of a Strands object (``Agent``, ``Swarm``, ``Graph``) being stepped: the tracer's start
    methods are not given the object, and its id, description and session are on it."""

    owner: Any
    #: The run the stream opened (to end it if Strands leaves it open).
    span: StrandsSpan | None = None


RUNNING: ContextVar[RunningStream | None] = ContextVar("genai_otel_strands_running", default=None)

#: Returned by a bridge method for a span that is not ours (made before instrumenting, or when
#: our start failed): Strands' own method handles it.
NOT_OURS = object()


class StrandsSpan(Span):
    """What Strands holds for one of its spans. Parentage follows ``target`` (our record's span; for an
    event-loop cycle, its agent's); attribute writes from the application pass through, Strands' own
    ``gen_ai.*`` extras are dropped, and status/exception calls are kept for :meth:`end` (Strands ends
    swarm and graph spans through ``use_span(end_on_exit=True)``)."""

    def __init__(self, bridge: StrandsBridge, target: Span) -> None:
        self._bridge = bridge
        self.target = target
        self.error: BaseException | None = None

    def get_span_context(self) -> SpanContext:
        return self.target.get_span_context()

    def is_recording(self) -> bool:
        return self._bridge.is_open(self) and self.target.is_recording()

    def set_attribute(self, key: str, value: Any) -> None:
        if key == semconv.GEN_AI_TOOL_DESCRIPTION:
            self._bridge.describe_tool(self, value)
        elif not key.startswith("gen_ai."):
            self.target.set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        self.target.add_event(name, attributes, timestamp)

    def update_name(self, name: str) -> None:
        return None  # the name follows the conventions

    def set_status(self, status: Any, description: str | None = None) -> None:
        return None  # our records set the status from the error, without its text unless content is on

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        if not isinstance(exception, GeneratorExit):  # a stream closed early did not fail
            self.error = exception

    def end(self, end_time: int | None = None) -> None:
        self._bridge.end(self, self.error)


class StrandsBridge:
    """Answers Strands' tracer calls with genai-otel records (see the module doc)."""

    def __init__(self, handler: TelemetryHandler) -> None:
        self.handler = handler
        self.runs = RunTracker(handler)

    @property
    def _capture(self) -> bool:
        return self.handler.capture_content

    def is_open(self, span: StrandsSpan) -> bool:
        return self.runs.get(span) is not None

    # -- opening ------------------------------------------------------------------------------

    def _parent(self, parent_span: Any) -> StrandsSpan | None:
        """The run Strands names as parent, else the one whose span is current (agents and swarms are
        started under the current span: an agent used as a tool, a swarm's node)."""
        span = parent_span or trace.get_current_span()
        return span if isinstance(span, StrandsSpan) and self.is_open(span) else None

    def _open(self, inv: Any, parent_span: Any) -> StrandsSpan:
        parent = self._parent(parent_span)
        span = StrandsSpan(self, trace.INVALID_SPAN)
        run = self.runs.start(span, parent, inv)
        span.target = inv.span or trace.get_current_span(run.context)
        if run.loop_error is not None:  # the loop guard says stop: raised into Strands' run
            self.runs.end(span, run.loop_error)
            raise run.loop_error
        return span

    def start_agent(
        self,
        messages: Any,
        agent_name: str,
        model_id: str | None = None,
        tools: Any = None,
        custom_trace_attributes: Any = None,
        tools_config: Any = None,
        system_prompt: str | None = None,
        system_prompt_content: Any = None,
        **_: Any,
    ) -> StrandsSpan:
        stream = RUNNING.get()
        agent = stream.owner if stream is not None else None
        model = getattr(agent, "model", None)
        session = getattr(agent, "_session_manager", None)
        inv = AgentInvocation(
            agent_name=agent_name,
            agent_id=getattr(agent, "agent_id", None),
            agent_description=getattr(agent, "description", None),
            provider=m.provider_of(model),
            request_model=model_id,
            conversation_id=getattr(session, "session_id", None),
        )
        if self._capture:
            inv.input_messages = m.messages_json(messages)
            # Older Strands releases (1.30) do not pass the system prompt: the agent has it.
            system_prompt = system_prompt or getattr(agent, "system_prompt", None)
            inv.system_instructions = m.system_instructions(system_prompt, system_prompt_content)
            inv.tool_definitions = m.tool_definitions(tools_config)
        return self._opened_by_stream(self._open(inv, None), stream)

    def start_cycle(self, invocation_state: Any, messages: Any, parent_span: Any = None, **_: Any) -> Any:
        """An event-loop cycle is Strands' plumbing, not a GenAI operation: its work nests in the agent."""
        parent = self._parent(parent_span or get_item(invocation_state, "event_loop_parent_span"))
        if parent is None:
            return NOT_OURS
        span = StrandsSpan(self, parent.target)
        self.runs.alias(span, parent)
        return span

    def start_model(
        self,
        messages: Any,
        parent_span: Any = None,
        model_id: str | None = None,
        system_prompt: str | None = None,
        system_prompt_content: Any = None,
        **_: Any,
    ) -> StrandsSpan:
        parent = self._parent(parent_span)
        parent_run = self.runs.get(parent) if parent is not None else None
        agent = parent_run.inv if parent_run is not None else None
        inv = InferenceInvocation(
            operation=semconv.OPERATION_CHAT,
            provider=getattr(agent, "provider", None),
            request_model=model_id,
            owns_client_calls=True,
            guessed=frozenset({"provider"}),
        )
        if self._capture:
            inv.input_messages = m.messages_json(messages)
            inv.system_instructions = m.system_instructions(system_prompt, system_prompt_content) or getattr(
                agent, "system_instructions", None
            )
            inv.tool_definitions = getattr(agent, "tool_definitions", None)
        return self._open(inv, parent)

    def start_tool(self, tool: Any, parent_span: Any = None, **_: Any) -> StrandsSpan:
        inv = ToolInvocation(
            tool_name=tool.get("name"), tool_call_id=tool.get("toolUseId"), tool_type="function"
        )
        if self._capture:
            inv.arguments = tool.get("input")
        return self._open(inv, parent_span)

    def start_multiagent(self, task: Any, instance: str, **_: Any) -> StrandsSpan:
        """A swarm steers hand-offs between its agents: a conversation turn named after the agent it
        starts with. A graph is a workflow the application defined: ``invoke_workflow {graph id}``."""
        stream = RUNNING.get()
        owner = stream.owner if stream is not None else None
        if instance == "swarm":
            node = getattr(getattr(owner, "state", None), "current_node", None)
            inv = AgentInvocation(
                operation=semconv.OPERATION_HANDLE_CONVERSATION_TURN,
                agent_name=getattr(node, "node_id", None),
            )
        else:
            inv = AgentInvocation(
                operation=semconv.OPERATION_INVOKE_WORKFLOW, agent_name=getattr(owner, "id", None)
            )
        if self._capture:
            inv.input_messages = [m.message_json({"role": "user", "content": _task_blocks(task)})]
        return self._opened_by_stream(self._open(inv, None), stream)

    @staticmethod
    def _opened_by_stream(span: StrandsSpan, stream: RunningStream | None) -> StrandsSpan:
        if stream is not None and stream.span is None:
            stream.span = span
        return span

    # -- closing ------------------------------------------------------------------------------

    def describe_tool(self, span: StrandsSpan, description: Any) -> None:
        run = self.runs.get(span)
        if run is not None and isinstance(run.inv, ToolInvocation) and description:
            self.handler.update_request(run.inv, tool_description=str(description))

    def _ending(self, span: Any, record_type: type, fill_record: Callable[[Any], None]) -> Any:
        if not isinstance(span, StrandsSpan):
            return NOT_OURS
        run = self.runs.own(span)
        if run is not None and isinstance(run.inv, record_type) and run.inv.owner is None:
            fill_record(run.inv)
        return None

    def end_agent(self, span: Any, response: Any = None, error: BaseException | None = None) -> Any:
        def fill_agent(inv: AgentInvocation) -> None:
            if response is not None and self._capture:
                reason = m.finish_reason(getattr(response, "stop_reason", None))
                inv.output_messages = [m.message_json(getattr(response, "message", None) or {}, reason)]

        if self._ending(span, AgentInvocation, fill_agent) is NOT_OURS:
            return NOT_OURS
        return self.end(span, error)

    def end_model(self, span: Any, message: Any, usage: Any, metrics: Any, stop_reason: Any) -> Any:
        def fill_model(inv: InferenceInvocation) -> None:
            reason = m.finish_reason(stop_reason)
            fill(
                inv,
                input_tokens=get_item(usage, "inputTokens"),
                output_tokens=get_item(usage, "outputTokens"),
                cache_read_input_tokens=get_item(usage, "cacheReadInputTokens") or None,
                cache_write_input_tokens=get_item(usage, "cacheWriteInputTokens") or None,
                finish_reasons=[reason] if reason else None,
            )
            if self._capture:
                inv.output_messages = [m.message_json(message, reason)]

        if self._ending(span, InferenceInvocation, fill_model) is NOT_OURS:
            return NOT_OURS
        return self.end(span, None)

    def end_tool(self, span: Any, tool_result: Any, error: BaseException | None = None) -> Any:
        def fill_tool(inv: ToolInvocation) -> None:
            if tool_result is not None and self._capture:
                inv.result = m.tool_result(tool_result)

        if self._ending(span, ToolInvocation, fill_tool) is NOT_OURS:
            return NOT_OURS
        if error is None and get_item(tool_result, "status") == "error":
            error = ToolError(m.tool_result(tool_result))
        return self.end(span, error)

    def end_with_error(self, span: Any, error_message: str, exception: BaseException | None = None) -> Any:
        if not isinstance(span, StrandsSpan):
            return NOT_OURS
        return self.end(span, exception or StrandsError(error_message))

    def end_cancelled(self, span: Any, cancellation: BaseException) -> Any:
        """Strands leaves a cancelled run neither failed nor succeeded; so do we."""
        if not isinstance(span, StrandsSpan):
            return NOT_OURS
        return self.end(span, None)

    def end_cycle(self, span: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(span, StrandsSpan):
            return NOT_OURS
        return self.end(span, None)

    def end(self, span: StrandsSpan, error: BaseException | None) -> None:
        self.runs.end(span, error)

    def end_stream(self, stream: RunningStream, error: BaseException | None) -> None:
        """A stream ended: the run it opened ends too, if Strands left it open (a stream closed early, in
        Strands releases that do not report cancellation)."""
        if stream.span is not None:
            self.end(stream.span, None if isinstance(error, GeneratorExit) else error)


class StrandsError(Exception):
    """An error Strands reported by message only (no exception object)."""


class ToolError(Exception):
    """A tool whose result has status ``error`` (Strands turns the tool's exception into that result)."""


def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def _task_blocks(task: Any) -> list[Any]:
    return task if isinstance(task, list) else [{"text": str(task)}]


async def running(stream: Any, running_stream: RunningStream) -> Any:
    """Step ``stream`` (an agent's, swarm's or graph's event stream) with ``running_stream`` as
    :data:`RUNNING`, set only while a step runs: between steps the consumer sees its own value."""
    try:
        while True:
            token = RUNNING.set(running_stream)
            try:
                item = await stream.__anext__()
            except StopAsyncIteration:
                return
            finally:
                RUNNING.reset(token)
            yield item
    finally:
        await stream.aclose()
