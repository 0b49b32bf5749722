"""The tracing processor registered with the OpenAI Agents SDK: its traces and spans become GenAI spans.

The SDK reports each span's start and end synchronously, in the frame that runs it (a ``with`` block or
explicit ``start``/``finish`` around the work), so a span's context is made current at its start: the
client call a model span wraps merges into it, and the user's own spans inside a tool nest under it.
Parents come from the SDK's own ids (``parent_id``, else the trace).

One ``Runner.run`` is one ``handle_conversation_turn`` span. The SDK opens its ``task`` span before it
knows the agent, so the turn is opened when its first child starts -- then named after the entry agent.
Without task spans (``include_task_and_turn_spans=False``, older SDKs) the run's trace is the turn.
A run started inside another run (``Agent.as_tool``) shows its agents beneath the tool that runs it.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

from agents.tracing import TracingProcessor
from opentelemetry.trace import Status, StatusCode

from genai_otel import semconv
from genai_otel.instrumentation._framework import Run, RunReceiver, guarded
from genai_otel.instrumentation.openai_agents import _mapping as m
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation

# error.type when the SDK marks a span failed without an exception (a tool error it handed to the model).
_OTHER_ERROR = "_OTHER"


# Our errors are reported, never raised into the SDK (which would only log them).
_guarded = guarded("openai_agents")


@dataclass(frozen=True)
class _PendingTurn:
    """A conversation turn waiting for its first child (to be named after the entry agent)."""

    parent_id: str | None
    conversation_id: str | None
    #: A trace's turn: opened only by an agent run straight under the trace (no task spans).
    by_agent_only: bool


class GenAITracingProcessor(RunReceiver, TracingProcessor):
    """Receives every SDK trace and span; registered by :class:`OpenAIAgentsInstrumentor`."""

    def __init__(self, handler: TelemetryHandler) -> None:
        super().__init__(handler, explicit_parents=True)
        self._pending: dict[str, _PendingTurn] = {}
        self._conversations: dict[str, str | None] = {}
        self._outer_errors: dict[str, BaseException] = {}
        # Turns are opened from whichever span starts first; the SDK may start spans in several threads.
        self._lock = threading.Lock()

    def close(self) -> None:
        super().close()
        self._pending.clear()
        self._conversations.clear()
        self._outer_errors.clear()

    def shutdown(self) -> None:
        """Spans are ended as the SDK ends them: nothing buffered here (the OTel providers export)."""

    def force_flush(self) -> None:
        """Nothing buffered here."""

    # -- traces -----------------------------------------------------------------------------------

    @_guarded
    def on_trace_start(self, trace: Any) -> None:
        self._note_outer_error(trace.trace_id)
        # group_id is the SDK's conversation/thread id (RunConfig.group_id); None unless the app set one.
        group_id = getattr(trace, "group_id", None)
        self._conversations[trace.trace_id] = group_id
        self._pending[trace.trace_id] = _PendingTurn(None, group_id, by_agent_only=True)

    @_guarded
    def on_trace_end(self, trace: Any) -> None:
        error = self._raised(trace.trace_id)
        self._pending.pop(trace.trace_id, None)
        self._conversations.pop(trace.trace_id, None)
        self._end(trace.trace_id, error, reported_failure=False)

    # -- spans ------------------------------------------------------------------------------------

    @_guarded
    def on_span_start(self, span: Any) -> None:
        self._note_outer_error(span.span_id)
        data = span.span_data
        kind = data.type
        parent_id = span.parent_id or span.trace_id
        conversation_id = self._conversations.get(span.trace_id)
        if kind == m.TASK:
            if self._in_turn(parent_id):
                self._runs.alias(span.span_id, parent_id)  # a run inside a run: not a turn of its own
            else:
                self._pending[span.span_id] = _PendingTurn(
                    span.parent_id, conversation_id, by_agent_only=False
                )
            return
        self._open_pending_turn(parent_id, kind == m.AGENT, data)
        # The loop guard's error (action "raise") cannot reach the run from a processor (the SDK logs
        # what a processor raises); the guard still marks the spans.
        if kind == m.AGENT:
            self._runs.start(span.span_id, parent_id, m.agent(data, conversation_id))
        elif kind in m.MODEL_CALLS:
            self._runs.start(span.span_id, parent_id, m.model_call(data, conversation_id))
        elif kind == m.TOOL:
            self._runs.start(span.span_id, parent_id, m.tool(data, conversation_id))
        elif kind in m.INTERNAL:
            self._runs.start(span.span_id, parent_id, name=m.internal_span_name(data))
        else:
            self._runs.alias(span.span_id, parent_id)

    @_guarded
    def on_span_end(self, span: Any) -> None:
        data = span.span_data
        error = self._raised(span.span_id)
        if data.type == m.TASK and span.span_id in self._pending:
            # The run started no agent: shown only when it failed before it could.
            if error is None:
                del self._pending[span.span_id]
                return
            self._open_pending_turn(span.span_id, False, data)
        run = self._runs.own(span.span_id)
        if run is None:
            self._runs.end(span.span_id)  # an alias: forget it
            return
        capture = self._handler.capture_content
        inv = run.inv
        if isinstance(inv, InferenceInvocation) and data.type in m.MODEL_CALLS:
            m.finish_model_call(inv, data, capture)
        elif isinstance(inv, AgentInvocation) and data.type == m.AGENT:
            m.finish_agent(inv, data, capture)
        elif isinstance(inv, ToolInvocation):
            m.finish_tool(inv, data, capture)
        elif data.type == m.HANDOFF and run.span is not None:
            name = m.handoff_name(data)
            if name:
                run.span.update_name(name)
        self._end(span.span_id, error, reported_failure=bool(span.error))

    # -- helpers ----------------------------------------------------------------------------------

    def _open_pending_turn(self, parent_id: str, by_agent: bool, data: Any) -> None:
        with self._lock:
            pending = self._pending.get(parent_id)
            if pending is None or (pending.by_agent_only and not by_agent):
                return
            del self._pending[parent_id]
        agent_name = data.name if by_agent else None
        turn = m.conversation_turn(pending.conversation_id, agent_name)
        # Not made current: everything in the turn is an SDK span parented to it explicitly, and the
        # turn may end in another frame than its first child started in.
        self._runs.start(parent_id, pending.parent_id, turn, attach=False)

    def _in_turn(self, run_id: str) -> bool:
        run = self._runs.get(run_id)
        while run is not None:
            inv = run.inv
            if (
                isinstance(inv, AgentInvocation)
                and inv.operation == semconv.OPERATION_HANDLE_CONVERSATION_TURN
            ):
                return True
            run = run.parent
        return False

    def _note_outer_error(self, sdk_id: str) -> None:
        """An exception being handled where the SDK starts a span (the app runs an agent in an ``except``
        block) is not the span's: see :meth:`_raised`."""
        outer = sys.exc_info()[1]
        if outer is not None:
            self._outer_errors[sdk_id] = outer

    def _raised(self, sdk_id: str) -> BaseException | None:
        """The exception unwinding through the SDK's span or trace as it ends (its ``with`` block or
        ``finally``): the SDK reports a failure as a message only, and error.type wants its class."""
        error = sys.exc_info()[1]
        outer = self._outer_errors.pop(sdk_id, None)
        if error is None or error is outer or isinstance(error, GeneratorExit):
            return None
        return error

    def _end(self, run_id: str, error: BaseException | None, reported_failure: bool) -> None:
        run = self._runs.own(run_id)
        if run is None:
            return
        if error is None and reported_failure:
            _mark_failed(run)
        parent = run.parent.inv if run.parent is not None else None
        if isinstance(run.inv, InferenceInvocation) and isinstance(parent, AgentInvocation):
            m.pass_up(run.inv, parent, self._handler)
        self._runs.end(run_id, error)


def _mark_failed(run: Run) -> None:
    if run.inv is not None:
        run.inv.error_type = run.inv.error_type or _OTHER_ERROR
    elif run.span is not None:
        run.span.set_attribute(semconv.ERROR_TYPE, _OTHER_ERROR)
        run.span.set_status(Status(StatusCode.ERROR, _OTHER_ERROR))
