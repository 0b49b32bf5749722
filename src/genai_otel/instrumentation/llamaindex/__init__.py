"""LlamaIndex through its own instrumentation dispatcher (no monkey-patching): a span handler and an
event handler on the root dispatcher turn LlamaIndex's spans into GenAI spans:

* LLM ``chat``/``complete`` (sync, async, streamed) -> ``chat`` / ``text_completion``, owning the client
  SDK call made inside (ollama, anthropic, openai, ... when instrumented too), so one model call is one
  span; a streamed call ends when LlamaIndex reports the stream's end;
* embedding calls -> ``embeddings``; retrievers -> ``retrieval`` (query, node ids and scores under
  content capture); tools -> ``execute_tool``;
* workflow agents (``FunctionAgent``, ``ReActAgent``, ``CodeActAgent``, ``AgentWorkflow``) ->
  ``invoke_agent``, their ``call_tool`` steps -> ``execute_tool`` with the model's tool-call id;
* query engines, synthesizers, workflows and their steps -> internal spans named ``Class.method``.

Private helpers (``_retrieve``...), text splitters and agent bookkeeping steps are folded into their
parent, so the trace shows the work, not the plumbing.
"""

from __future__ import annotations

from collections.abc import Iterable

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch


class LlamaIndexInstrumentor(GenAIInstrumentor):
    """Instruments ``llama-index-core`` (0.12+) through its instrumentation dispatcher."""

    dependencies = ("llama-index-core >= 0.12",)

    def patches(self) -> Iterable[Patch]:
        return ()

    def _on_instrument(self) -> None:
        from llama_index.core.instrumentation import get_dispatcher

        from genai_otel.instrumentation.llamaindex._handlers import (
            GenAIEventHandler,
            GenAISpanHandler,
            LlamaIndexSpans,
        )

        self._dispatcher = get_dispatcher()
        spans = LlamaIndexSpans(self.handler)
        self.span_handler = GenAISpanHandler()  # its __init__ takes no extra fields: set after
        self.span_handler.spans = spans
        self.event_handler = GenAIEventHandler(spans=spans)
        self._dispatcher.add_span_handler(self.span_handler)
        self._dispatcher.add_event_handler(self.event_handler)

    def _on_uninstrument(self) -> None:
        dispatcher = self._dispatcher
        dispatcher.span_handlers = [h for h in dispatcher.span_handlers if h is not self.span_handler]
        dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not self.event_handler]
        self.span_handler.close()
