"""OpenAI Agents SDK (``openai-agents``) through its own tracing interface: instrumenting registers a
``TracingProcessor`` whose traces and spans become GenAI spans:

* one ``Runner.run`` / ``run_sync`` / ``run_streamed`` (the SDK's ``task`` span) -> ``handle_conversation_turn
  {entry agent}``; a run started inside a tool (``Agent.as_tool``) is not a turn of its own;
* agent spans -> ``invoke_agent {agent}`` (model, instructions, tools and messages from its model calls);
* generation (chat completions) and response (Responses API) spans -> ``chat {model}``, owning the client
  SDK call made inside (openai, litellm when instrumented too), so one model call is one span;
* function spans -> ``execute_tool {tool}``;
* hand-offs, guardrails and custom spans -> internal spans; the SDK's turns and MCP tool listings are
  folded into their parents.

``gen_ai.conversation.id`` is the SDK's ``group_id`` (``RunConfig(group_id=...)``) when the app sets one.
Content comes from the SDK's span data, so ``RunConfig(trace_include_sensitive_data=False)`` keeps it out
even under genai-otel's content capture.

The SDK's own exporters are untouched. To stop the SDK exporting to OpenAI, replace its processors
(``set_trace_processors([])``): ours stays. Disabling the SDK's tracing (``OPENAI_AGENTS_DISABLE_TRACING``,
``set_tracing_disabled``, ``RunConfig(tracing_disabled=True)``) leaves only the client calls traced: the
SDK then reports no span to any processor. Uninstrumenting removes the processor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import TelemetryHandler


class OpenAIAgentsInstrumentor(GenAIInstrumentor):
    """Instruments ``openai-agents`` (import name ``agents``) with a tracing processor."""

    dependencies = ("openai-agents >= 0.1",)

    def patches(self) -> Iterable[Patch]:
        yield Patch(
            "agents.tracing.provider", "SynchronousMultiTracingProcessor.set_processors", self._keeping_ours
        )

    def _on_instrument(self) -> None:
        from agents.tracing import get_trace_provider

        from genai_otel.instrumentation.openai_agents._processor import GenAITracingProcessor

        self.processor = GenAITracingProcessor(self.handler)
        self._provider = get_trace_provider()
        self._provider.register_processor(self.processor)

    def _on_uninstrument(self) -> None:
        processor, provider = getattr(self, "processor", None), getattr(self, "_provider", None)
        if processor is None or provider is None:
            return  # the set-up failed before registering anything
        # The SDK has no call to remove one processor: keep the others, in their order.
        processors = getattr(getattr(provider, "_multi_processor", None), "_processors", None)
        if isinstance(processors, tuple) and processor in processors:
            provider.set_processors([p for p in processors if p is not processor])
        processor.close()  # a provider we could not edit still calls it: it does nothing now

    def _keeping_ours(self, _handler: TelemetryHandler) -> Wrapper:
        def set_processors(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            """The app replaced the SDK's processors (e.g. to stop exporting to OpenAI): ours stays."""
            result = wrapped(*args, **kwargs)
            try:
                processor = getattr(self, "processor", None)
                ours = getattr(getattr(self, "_provider", None), "_multi_processor", None)
                if processor is not None and instance is ours and processor not in instance._processors:
                    instance.add_tracing_processor(processor)
            except Exception:
                report_internal_error("openai_agents.set_processors")
            return result

        return set_processors
