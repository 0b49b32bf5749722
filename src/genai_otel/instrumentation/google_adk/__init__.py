"""Google Agent Development Kit (``google-adk``): runner turns, agents, workflow agents, model calls and
tool calls, traced at the boundaries ADK's own telemetry scopes mark (see ``_scopes``):

* ``Runner.run_async`` / ``run`` -> ``handle_conversation_turn {root agent}`` (conversation id: the ADK
  session id);
* ``LlmAgent`` and custom agents -> ``invoke_agent {name}`` (description; the model and its provider when
  the agent runs one; instruction and user message under content capture); ``SequentialAgent``,
  ``ParallelAgent``, ``LoopAgent`` and graph workflows (``google.adk.workflow.Workflow``) nested in a
  turn -> ``invoke_workflow {name}``; sub-agents, ``transfer_to_agent`` hand-offs and ``AgentTool`` runs
  nest where ADK runs them;
* model calls -> ``chat {model}`` owning the client SDK call made beneath it (google-genai,
  instrumented by genai-otel): one span per model call, with the client's exact usage, response id, server;
  streamed calls (``StreamingMode.SSE``) with their chunk timing;
* tool calls -> ``execute_tool {tool}`` (call id, arguments and result under content capture; a tool
  that reports its failure in its response marks the span ERROR, as ADK does).

ADK's own spans, GenAI events and duplicated metrics for the same work are silenced while instrumented
(see ``_adk_telemetry``); uninstrumenting restores them exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch

_SCOPES = "google.adk.telemetry._instrumentation"
_NODE_SCOPES = "google.adk.telemetry.node_tracing"
_METRICS = "google.adk.telemetry._metrics"
#: ADK's telemetry scopes we wrap: all must exist for ADK's own spans to be silenced.
_SCOPE_FUNCTIONS = (
    "record_invocation",
    "record_agent_invocation",
    "record_tool_execution",
    "record_inference_telemetry",
)


class GoogleADKInstrumentor(GenAIInstrumentor):
    """Instruments ``google-adk`` through its telemetry scopes, in place of its own spans."""

    #: 2.12 introduced the telemetry scopes this wraps (``record_invocation``, ``stream_in_scope``...).
    dependencies = ("google-adk >= 2.12",)
    #: ADK's telemetry scopes: once imported (with the tracing module they use), ADK's spans are silenced.
    library_module = _SCOPES

    def patches(self) -> Iterable[Patch]:
        from genai_otel.instrumentation.google_adk._adk_telemetry import DUPLICATED_METRICS, not_recorded
        from genai_otel.instrumentation.google_adk._scopes import ADKScopes

        self.scopes = ADKScopes(self.handler)
        wrappers: dict[str, Callable[..., object]] = {
            "record_invocation": self.scopes.turn,
            "record_agent_invocation": self.scopes.agent,
            "record_tool_execution": self.scopes.tool,
            "record_inference_telemetry": self.scopes.model_call,
            "InferenceScope.record_llm_response": self.scopes.model_response,
        }
        for attribute, wrapper in wrappers.items():
            yield Patch(_SCOPES, attribute, lambda handler, wrapper=wrapper: wrapper)
        yield Patch(_NODE_SCOPES, "_use_invoke_workflow_span", lambda handler: self.scopes.workflow)
        for recorder in DUPLICATED_METRICS:
            yield Patch(_METRICS, recorder, lambda handler: not_recorded)

    def _on_instrument(self) -> None:
        import importlib

        from genai_otel.instrumentation.google_adk._adk_telemetry import silence

        scopes = importlib.import_module(_SCOPES)
        if not all(hasattr(scopes, name) for name in _SCOPE_FUNCTIONS):
            return  # an ADK whose scopes we do not know: its own spans stay, ours are not made
        self._restore_adk_telemetry = silence(importlib.import_module("google.adk.telemetry.tracing"))

    def _on_uninstrument(self) -> None:
        restore = getattr(self, "_restore_adk_telemetry", None)
        self._restore_adk_telemetry = None
        if restore is not None:
            restore()
        self.scopes.close()
