"""CrewAI events -> runs: a starting event opens a span (current in the emitting frame, for the work that
follows there), its ending event -- which names it by ``started_event_id`` -- closes it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from genai_otel.instrumentation._framework import RunReceiver
from genai_otel.instrumentation._util import jsonable
from genai_otel.instrumentation.crewai import _mapping as m
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation


class CrewAIRunError(Exception):
    """Stands for an error CrewAI reported only as text (its event carries no exception)."""


class EventListener(RunReceiver):
    """Turns CrewAI's events into GenAI spans. Installed by :class:`CrewAIInstrumentor`."""

    def __init__(self, handler: TelemetryHandler) -> None:
        super().__init__(handler)
        self._starts: dict[str, Callable[[Any, Any], None]] = {
            "crew_kickoff_started": self._crew_started,
            "flow_started": self._flow_started,
            "method_execution_started": self._method_started,
            "task_started": self._fold,
            "agent_execution_started": self._agent_started,
            "lite_agent_execution_started": self._agent_started,  # Agent.kickoff() without a crew
            "llm_call_started": self._llm_started,
            "tool_usage_started": self._tool_started,
        }
        self._ends: dict[str, Callable[[Any, Any], None]] = {
            "crew_kickoff_completed": self._completed,
            "agent_execution_completed": self._completed,
            "lite_agent_execution_completed": self._completed,
            "llm_call_completed": self._llm_completed,
            "tool_usage_finished": self._tool_finished,
            **{name: self._ended for name in m.PLAIN_ENDS},
            **{name: self._failed for name in m.FAILURES},
        }

    def on_event(self, source: Any, event: Any) -> None:
        if self.closed:
            return
        kind = getattr(event, "type", None)
        start = self._starts.get(kind)
        if start is not None:
            start(source, event)
            return
        end = self._ends.get(kind)
        if end is not None and getattr(event, "started_event_id", None) is not None:
            end(source, event)

    def _start(self, event: Any, inv: Any = None, name: str | None = None) -> None:
        run = self._runs.start(event.event_id, event.parent_event_id, inv, name=name)
        if run.loop_error is not None:  # the loop guard's action is "raise": stop the run here
            self._runs.end(event.event_id, run.loop_error)
            raise run.loop_error

    def _fold(self, source: Any, event: Any) -> None:
        """Framework plumbing: what happens inside belongs to the enclosing run."""
        self._runs.alias(event.event_id, event.parent_event_id)

    def _record(self, event: Any) -> Any:
        run = self._runs.get(event.started_event_id)
        return run.inv if run is not None else None

    def _ended(self, source: Any, event: Any) -> None:
        self._runs.end(event.started_event_id)

    def _failed(self, source: Any, event: Any) -> None:
        self._runs.end(event.started_event_id, _error_of(event))

    # -- crews and flows ----------------------------------------------------------------------

    def _crew_started(self, source: Any, event: Any) -> None:
        self._start_with_inputs(event, m.crew_record(source, event))

    def _flow_started(self, source: Any, event: Any) -> None:
        if m.is_agent_executor(source):
            self._fold(source, event)
            return
        self._start_with_inputs(event, m.flow_record(event))

    def _start_with_inputs(self, event: Any, inv: AgentInvocation) -> None:
        """A crew's or a flow's run: the inputs it was kicked off with are its input."""
        if self._capture:
            inv.input_messages = m.inputs_message(getattr(event, "inputs", None))
        self._start(event, inv)

    def _method_started(self, source: Any, event: Any) -> None:
        if m.is_agent_executor(source):
            self._fold(source, event)
            return
        self._start(event, name=getattr(event, "method_name", None) or "method")

    # -- agents, models, tools ----------------------------------------------------------------

    def _agent_started(self, source: Any, event: Any) -> None:
        agent = getattr(event, "agent", None) or source
        inv = m.agent_record(agent)
        if self._capture:
            m.agent_content(inv, agent, event)
        self._start(event, inv)

    def _completed(self, source: Any, event: Any) -> None:
        """A crew's or an agent's run ended: its output is the run's answer."""
        inv = self._record(event)
        if isinstance(inv, AgentInvocation) and self._capture:
            inv.output_messages = m.output_message(getattr(event, "output", None))
        self._runs.end(event.started_event_id)

    def _llm_started(self, source: Any, event: Any) -> None:
        inv = m.llm_request(source, event)
        if self._capture:
            m.llm_input(inv, event)
        self._start(event, inv)

    def _llm_completed(self, source: Any, event: Any) -> None:
        inv = self._record(event)
        if isinstance(inv, InferenceInvocation) and not isinstance(inv, AgentInvocation):
            m.llm_result(inv, event, self._capture)
        self._runs.end(event.started_event_id)

    def _tool_started(self, source: Any, event: Any) -> None:
        inv = m.tool_record(source, event)
        if self._capture:
            inv.arguments = getattr(event, "tool_args", None)
        self._start(event, inv)

    def _tool_finished(self, source: Any, event: Any) -> None:
        inv = self._record(event)
        if isinstance(inv, ToolInvocation):
            # A tool that caught its own error (CrewAI's tools do) reports it as a failure, not a raise.
            inv.error_type = m.tool_failure_type(getattr(event, "failure", None))
            if self._capture:
                inv.result = jsonable(getattr(event, "output", None))
        self._runs.end(event.started_event_id)


def _error_of(event: Any) -> BaseException:
    """The exception behind a failure event: carried by the event (flows), being handled where CrewAI
    emits it (its ``except`` blocks), or -- reported as text only -- a stand-in."""
    error = getattr(event, "error", None)
    if isinstance(error, BaseException):
        return error
    handled = sys.exc_info()[1]
    if handled is not None:
        return handled
    return CrewAIRunError(str(error or event.type))
