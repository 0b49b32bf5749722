"""CrewAI: every event CrewAI emits is read in the emitting frame, right after the event bus gave it its
ids (its own parent event id and, for an ending event, the id of the event that started it):

* a crew -> ``invoke_workflow {crew name}`` (``Process.sequential``: the app defines the order) or
  ``handle_conversation_turn {manager}`` (``Process.hierarchical``: a manager agent delegates);
  a ``Flow`` -> ``invoke_workflow {flow name}``, its methods -> internal spans named after them;
* an agent's execution of a task -> ``invoke_agent {role}`` (tasks fold into it; the agent's executor,
  itself a flow, too);
* LLM calls -> ``chat {model}``, owning the client SDK call made beneath (CrewAI's native OpenAI,
  Anthropic, ... providers, or litellm), so one model call is one span;
* tool usage -> ``execute_tool {tool}``.

CrewAI's own listeners run later on the bus's worker threads; reading events where they are emitted is
what lets a span be current for the work it covers (the model's HTTP call, the tool) in the thread that
does it. CrewAI's anonymous telemetry and its tracing service are separate from this: turn them off with
``CREWAI_DISABLE_TELEMETRY=true`` and ``CREWAI_TRACING_ENABLED=false``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.safety import report_internal_error
from genai_otel.telemetry.agent_runs import AgentLoopError

_BUS = "crewai.events.event_bus"


class CrewAIInstrumentor(GenAIInstrumentor):
    """Instruments ``crewai`` through its event bus."""

    dependencies = ("crewai >= 1.15",)

    def patches(self) -> Iterable[Patch]:
        # Every emit path (emit, aemit) prepares the event in the emitting frame: ids, then dispatch.
        yield Patch(_BUS, "CrewAIEventsBus._prepare_event", lambda handler: self._on_event)

    def _on_instrument(self) -> None:
        from genai_otel.instrumentation.crewai._listener import EventListener

        self.listener = EventListener(self.handler)

    def _on_uninstrument(self) -> None:
        self.listener.close()

    def _on_event(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        listener = getattr(self, "listener", None)
        if listener is not None and len(args) == 2:  # _prepare_event(source, event)
            try:
                listener.on_event(*args)
            except AgentLoopError:
                raise  # the loop guard stops the run (action "raise"): into CrewAI's code, on purpose
            except Exception:
                report_internal_error("crewai.event")
        return result
