"""smolagents (1.26+): ``ToolCallingAgent`` and ``CodeAgent`` runs, their model calls and tool calls.

* a run (``run``, ``run(stream=True)``, calling the agent; a managed agent called by its manager) ->
  ``invoke_agent {agent name}``, nested under the manager's for managed agents; the steps of the run
  (``ActionStep``, planning) are folded into it: their model and tool calls are its children;
* each ``Model.generate`` / ``generate_stream`` of the built-in model classes -> ``chat {model id}``,
  owning the client SDK call made for it (openai, litellm, ... when instrumented too), so one model call
  is one span;
* each tool call (``Tool.__call__``: from a tool-calling step, or from the code a ``CodeAgent`` runs) ->
  ``execute_tool {tool}``, with the model's tool call id when a ``ToolCallingAgent`` made the call; the
  code a ``CodeAgent`` runs locally (in a worker thread, for its time limit) runs in the step's context,
  so the tools it calls nest under the agent.
"""

from __future__ import annotations

from collections.abc import Iterable

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.instrumentation.smolagents._wrappers import (
    MODEL_CLASSES,
    code_in_caller_context,
    defined_here,
    trace_generate,
    trace_generate_stream,
    trace_run,
    trace_tool,
    with_tool_call_ids,
)


class SmolagentsInstrumentor(GenAIInstrumentor):
    """Instruments ``smolagents`` agents, models and tools."""

    dependencies = ("smolagents >= 1.26",)

    def patches(self) -> Iterable[Patch]:
        yield Patch("smolagents.agents", "MultiStepAgent._run_stream", trace_run)
        yield Patch("smolagents.agents", "ToolCallingAgent.process_tool_calls", with_tool_call_ids)
        yield Patch("smolagents.tools", "Tool.__call__", trace_tool)
        yield Patch("smolagents.local_python_executor", "timeout", code_in_caller_context)
        for name in MODEL_CLASSES:
            # Only where the class defines the method: a subclass that inherits it is covered by its base.
            yield Patch("smolagents.models", f"{name}.generate", trace_generate, defined_here)
            yield Patch("smolagents.models", f"{name}.generate_stream", trace_generate_stream, defined_here)
