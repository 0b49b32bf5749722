"""The span and event handlers added to LlamaIndex's root dispatcher."""

from __future__ import annotations

import inspect
import time
import weakref
from types import SimpleNamespace
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span.simple import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation.llamaindex import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    TelemetryHandler,
    ToolInvocation,
)


def _classes() -> SimpleNamespace:
    """The LlamaIndex base classes spans are recognised by (workflow agents only when installed)."""
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.node_parser.interface import NodeParser
    from llama_index.core.tools.types import BaseTool

    agents: tuple[type, ...] = ()
    workflows: tuple[type, ...] = ()
    try:
        from llama_index.core.agent.workflow import AgentWorkflow, BaseWorkflowAgent
        from llama_index.core.workflow import Workflow

        agents, workflows = (BaseWorkflowAgent, AgentWorkflow), (Workflow,)
    except ImportError:
        pass
    return SimpleNamespace(
        llm=BaseLLM,
        embedding=BaseEmbedding,
        retriever=BaseRetriever,
        tool=BaseTool,
        node_parser=NodeParser,
        agent=agents,
        workflow=workflows,
    )


_FOLDED = (InferenceInvocation, EmbeddingsInvocation, ToolInvocation)


class LlamaIndexSpans:
    """The state and logic behind both handlers: LlamaIndex span ids -> runs. A plain class, because
    every attribute read on the pydantic handlers' private attributes costs a ``__getattr__`` call."""

    def __init__(self, handler: TelemetryHandler) -> None:
        self.handler = handler
        self.runs = RunTracker(handler)
        self.classes = _classes()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.runs.end_all()

    def enter(
        self, id_: str, bound_args: inspect.BoundArguments, instance: Any, parent_id: str | None
    ) -> None:
        owner, method = m.split_id(id_)
        if m.is_plumbing(owner, method, instance, self.classes):
            self.runs.alias(id_, parent_id)
            return
        capture = self.handler.capture_content
        inv = m.record_for(owner, method, instance, bound_args.arguments, self.classes, capture)
        parent = self.runs.get(parent_id) if parent_id is not None else None
        if (
            inv is not None
            and parent is not None
            and parent.inv is not None
            and _nested_same_call(parent.inv, inv)
        ):
            # e.g. chat implemented through complete: one model call
            details = m.folded_details(parent.inv, instance)
            if details:
                self.handler.update_request(parent.inv, **details)
            self.runs.alias(id_, parent_id)
            return
        # Workflow runs return a handler (a future) and end in a callback; their steps are parented by
        # LlamaIndex's own ids, so the run's context is never made current in the caller.
        attach = not (method == "run" and isinstance(instance, self.classes.workflow))
        if inv is None:
            self.runs.start(id_, parent_id, name=f"{owner}.{method}" if owner else method, attach=attach)
        else:
            self.runs.start(id_, parent_id, inv, attach=attach)

    def exit(self, id_: str, result: Any) -> None:
        run = self.runs.own(id_)
        if run is None:
            self.runs.end(id_)  # an alias
            return
        inv = run.inv
        if isinstance(inv, InferenceInvocation) and m.is_stream(result):
            # The model call happens as the caller iterates; LlamaIndex reports its end as an event --
            # or never, when the caller drops the stream unfinished: then its collection ends the span.
            self.runs.suspend(id_)
            self.handler.expect_client_call(inv)
            weakref.finalize(result, self.runs.end, id_)
            return
        if inv is not None and inv.owner is None:
            m.on_result(inv, result, self.handler.capture_content)
        self.runs.end(id_)

    def event(self, kind: str, event: Any) -> None:
        """Streamed model calls: chunks (time to first chunk), the final response, errors."""
        run = self.runs.own(event.span_id) if event.span_id else None
        inv = run.inv if run is not None else None
        if not isinstance(inv, InferenceInvocation) or run.scope is None or run.scope.open:
            return  # not a model call, or one still in its own scope (not a suspended stream)
        if kind in ("LLMChatInProgressEvent", "LLMCompletionInProgressEvent"):
            now = time.perf_counter_ns()
            inv.first_chunk_ns = inv.first_chunk_ns or now
            inv.last_chunk_ns = now
            inv.chunk_count += 1
        elif kind == "ExceptionEvent":
            self.runs.end(event.span_id, event.exception)
        else:  # the stream's end
            if inv.owner is None:
                m.model_response(inv, event.response, self.handler.capture_content)
            self.runs.end(event.span_id)


class GenAISpanHandler(BaseSpanHandler[SimpleSpan]):
    """LlamaIndex spans -> GenAI spans (see :mod:`genai_otel.instrumentation.llamaindex`). The dispatcher
    calls ``span_enter``/``span_exit``/``span_drop`` around every decorated method; we keep no SimpleSpan
    bookkeeping (:class:`LlamaIndexSpans` holds the state) and never raise into LlamaIndex."""

    spans: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "GenAISpanHandler"

    def close(self) -> None:
        self.spans.close()

    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        spans = self.spans
        if spans.closed:
            return
        try:
            spans.enter(id_, bound_args, instance, parent_id)
        except Exception:
            report_internal_error("llama_index.span_enter")

    def span_exit(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any = None,
        result: Any = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.spans.exit(id_, result)
        except Exception:
            report_internal_error("llama_index.span_exit")

    def span_drop(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.spans.runs.end(id_, err)
        except Exception:
            report_internal_error("llama_index.span_drop")

    def new_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:  # unused: span_enter overridden
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None


def _nested_same_call(parent: Any, inv: Any) -> bool:
    """One call reported twice (``chat`` through ``complete``, a batch through single embeddings, a
    tool's ``acall`` under the agent's ``call_tool`` step); nested retrievals and agents are distinct."""
    return type(parent) is type(inv) and isinstance(inv, _FOLDED) and not isinstance(inv, AgentInvocation)


class GenAIEventHandler(BaseEventHandler):
    """Completes streamed model calls (see :meth:`LlamaIndexSpans.event`)."""

    spans: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "GenAIEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        kind = type(event).__name__
        if kind not in _STREAM_EVENTS:
            return
        try:
            self.spans.event(kind, event)
        except Exception:
            report_internal_error("llama_index.event")


_STREAM_EVENTS = frozenset(
    {
        "LLMChatInProgressEvent",
        "LLMCompletionInProgressEvent",
        "LLMChatEndEvent",
        "LLMCompletionEndEvent",
        "ExceptionEvent",
    }
)
