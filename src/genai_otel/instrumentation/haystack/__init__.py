"""Haystack (2.10+, 3.x) through its own tracing backend: instrumenting enables a
``haystack.tracing.Tracer`` that turns Haystack's spans into GenAI spans, mapped by what runs:

* chat generators and generators (and an Agent's ``haystack.agent.step.llm``) -> ``chat``, owning the
  client SDK call made inside (openai, ollama, ... when instrumented too), so one model call is one span;
  the model and token usage come from the replies' meta (or the merged client call);
* embedders -> ``embeddings``; retrievers -> ``retrieval`` (query and document ids/scores under content
  capture);
* ``Agent`` components -> ``invoke_agent``; each tool call (``haystack.agent.step.tool``, a
  ``ToolInvoker`` in Haystack 2.x) -> ``execute_tool``;
* pipelines, agent steps and other components -> internal spans named after the component.

Haystack's content tags are always read (they carry usage); content is recorded only under
genai-otel's content-capture setting, whatever ``HAYSTACK_CONTENT_TRACING_ENABLED`` says.
Uninstrumenting restores the tracer Haystack had before.
"""

from __future__ import annotations

from collections.abc import Iterable

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch


class HaystackInstrumentor(GenAIInstrumentor):
    """Instruments ``haystack-ai`` by enabling its tracing with our tracer."""

    dependencies = ("haystack-ai >= 2.10",)

    def patches(self) -> Iterable[Patch]:
        return ()

    def _on_instrument(self) -> None:
        from haystack import tracing

        from genai_otel.instrumentation.haystack._tracer import GenAITracer

        self._previous = tracing.tracer.actual_tracer
        self.tracer = GenAITracer(self.handler)
        tracing.enable_tracing(self.tracer)

    def _on_uninstrument(self) -> None:
        from haystack import tracing

        if tracing.tracer.actual_tracer is self.tracer:
            tracing.tracer.actual_tracer = self._previous
        self.tracer.runs.end_all()
