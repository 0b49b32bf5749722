"""Strands Agents (``strands-agents``) through its own tracer: Strands asks its tracer for a span at each
step of a run, and genai-otel answers with its records (see :mod:`._tracer`):

* ``Agent`` runs (``agent()``, ``invoke_async``, ``stream_async``, agents used as tools) ->
  ``invoke_agent {name}`` with ``gen_ai.agent.id``/``description``, the model's provider and id, the
  session id as ``gen_ai.conversation.id``;
* model calls -> ``chat {model}``, owning the client SDK call made inside (openai, anthropic, ... when
  instrumented too), so one model call is one span;
* tool calls -> ``execute_tool {tool}``;
* ``Swarm`` -> ``handle_conversation_turn {entry agent}``, ``Graph`` -> ``invoke_workflow {graph id}``;
* event-loop cycles (Strands' plumbing) fold into their agent.

Strands' own spans for these steps are not made, so nothing is recorded twice; its metrics
(``strands.*``) are left as they are. Content is recorded only under genai-otel's content capture,
whatever ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks of Strands. The streams of agents, swarms and graphs
keep the context their runs make current to themselves: the consumer's context is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.instrumentation.strands._tracer import NOT_OURS, RunningStream, StrandsBridge, running
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry.agent_runs import AgentLoopError
from genai_otel.telemetry.scoped import drive_async

_TRACER = "strands.telemetry.tracer"
#: Strands' tracer method -> the bridge method that answers it.
_TRACER_METHODS = {
    "start_agent_span": "start_agent",
    "end_agent_span": "end_agent",
    "start_event_loop_cycle_span": "start_cycle",
    "end_event_loop_cycle_span": "end_cycle",
    "start_model_invoke_span": "start_model",
    "end_model_invoke_span": "end_model",
    "start_tool_call_span": "start_tool",
    "end_tool_call_span": "end_tool",
    "start_multiagent_span": "start_multiagent",
    "end_span_with_error": "end_with_error",
    "end_span_with_cancellation": "end_cancelled",
}
#: Streams whose object the tracer's start methods need (its id, description, session).
_STREAMS = (
    ("strands.agent.agent", "Agent"),
    ("strands.multiagent.swarm", "Swarm"),
    ("strands.multiagent.graph", "Graph"),
)


class StrandsInstrumentor(GenAIInstrumentor):
    """Instruments ``strands-agents`` by answering its tracer's calls with genai-otel records."""

    dependencies = ("strands-agents >= 1.30",)

    def patches(self) -> Iterable[Patch]:
        self.bridge = StrandsBridge(self.handler)
        for method, answer in _TRACER_METHODS.items():
            yield Patch(_TRACER, f"Tracer.{method}", self._answered_by(answer))
        for module, cls in _STREAMS:
            yield Patch(module, f"{cls}.stream_async", lambda handler: self._running_stream)

    def _answered_by(self, answer: str) -> Any:
        def factory(handler: Any) -> Wrapper:
            bridge_method = getattr(self.bridge, answer)

            def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
                if not is_instrumentation_enabled():
                    return wrapped(*args, **kwargs)
                try:
                    result = bridge_method(*args, **kwargs)
                except AgentLoopError:
                    raise
                except Exception:
                    report_internal_error(f"strands.{answer}")
                    result = NOT_OURS
                return wrapped(*args, **kwargs) if result is NOT_OURS else result

            return wrapper

        return factory

    def _running_stream(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        bridge, stream = self.bridge, RunningStream(instance)

        def finish(error: BaseException | None) -> None:
            safely("strands.stream", bridge.end_stream, stream, error)

        return drive_async(running(wrapped(*args, **kwargs), stream), finish=finish)

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        bridge = getattr(self, "bridge", None)
        if bridge is not None:
            bridge.runs.end_all()
