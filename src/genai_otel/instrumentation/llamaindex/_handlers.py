"""The span and event handlers added to LlamaIndex's root dispatcher."""

from __future__ import annotations

import inspect
import time
from types import SimpleNamespace
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span.simple import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr

from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation.llamaindex import _mapping as m
from genai_otel.telemetry import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    TelemetryHandler,
    ToolInvocation,
)
from genai_otel.telemetry.safety import report_internal_error


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


class GenAISpanHandler(BaseSpanHandler[SimpleSpan]):
    """LlamaIndex spans -> GenAI spans (see :mod:`genai_otel.instrumentation.llamaindex`)."""

    _runs: RunTracker = PrivateAttr()
    _handler: TelemetryHandler = PrivateAttr()
    _classes: SimpleNamespace = PrivateAttr()
    _closed: bool = PrivateAttr(default=False)

    @classmethod
    def class_name(cls) -> str:
        return "GenAISpanHandler"

    @classmethod
    def create(cls, handler: TelemetryHandler) -> GenAISpanHandler:
        self = cls()
        self._handler = handler
        self._runs = RunTracker(handler)
        self._classes = _classes()
        return self

    @property
    def runs(self) -> RunTracker:
        return self._runs

    @property
    def capture(self) -> bool:
        return self._handler.capture_content

    def close(self) -> None:
        self._closed = True
        self._runs.end_all()

    # The dispatcher calls these three around every decorated method; we keep no SimpleSpan
    # bookkeeping of our own (RunTracker holds the state) and never raise into LlamaIndex.

    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self._closed:
            return
        try:
            self._enter(id_, bound_args, instance, parent_id)
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
            self._exit(id_, result)
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
            self._runs.end(id_, err)
        except Exception:
            report_internal_error("llama_index.span_drop")

    def new_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:  # unused: span_enter overridden
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def _enter(
        self, id_: str, bound_args: inspect.BoundArguments, instance: Any, parent_id: str | None
    ) -> None:
        owner, method = m.split_id(id_)
        if m.is_plumbing(owner, method, instance, self._classes):
            self._runs.alias(id_, parent_id)
            return
        inv = m.record_for(owner, method, instance, bound_args.arguments, self._classes, self.capture)
        parent = self._runs.get(parent_id) if parent_id is not None else None
        if (
            inv is not None
            and parent is not None
            and parent.inv is not None
            and _nested_same_call(parent.inv, inv)
        ):
            m.fold_into(parent.inv, instance)  # e.g. chat implemented through complete: one model call
            self._runs.alias(id_, parent_id)
            return
        # Workflow runs return a handler (a future) and end in a callback; their steps are parented by
        # LlamaIndex's own ids, so the run's context is never made current in the caller.
        attach = not (method == "run" and isinstance(instance, self._classes.workflow))
        if inv is None:
            name = f"{owner}.{method}" if owner else method
            self._runs.start(id_, parent_id, name=name, attach=attach)
        else:
            self._runs.start(id_, parent_id, inv, attach=attach)

    def _exit(self, id_: str, result: Any) -> None:
        run = self._runs.own(id_)
        if run is None:
            self._runs.end(id_)  # an alias
            return
        inv = run.inv
        if isinstance(inv, InferenceInvocation) and m.is_stream(result):
            # The model call happens as the caller iterates; LlamaIndex reports its end as an event.
            self._runs.suspend(id_)
            self._handler.expect_client_call(inv)
            return
        if inv is not None and inv.owner is None:
            m.on_result(inv, result, self.capture)
        self._runs.end(id_)


def _nested_same_call(parent: Any, inv: Any) -> bool:
    """One call reported twice (``chat`` through ``complete``, a batch through single embeddings, a
    tool's ``acall`` under the agent's ``call_tool`` step); nested retrievals and agents are distinct."""
    return type(parent) is type(inv) and isinstance(inv, _FOLDED) and not isinstance(inv, AgentInvocation)


class GenAIEventHandler(BaseEventHandler):
    """Completes streamed model calls: chunks (time to first chunk), the final response, errors."""

    span_handler: Any = None

    @classmethod
    def class_name(cls) -> str:
        return "GenAIEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        kind = type(event).__name__
        if kind not in _STREAM_EVENTS:
            return
        try:
            self._handle(kind, event)
        except Exception:
            report_internal_error("llama_index.event")

    def _handle(self, kind: str, event: Any) -> None:
        runs: RunTracker = self.span_handler.runs
        run = runs.own(event.span_id) if event.span_id else None
        inv = run.inv if run is not None else None
        if not isinstance(inv, InferenceInvocation) or run.scope is None or run.scope.open:
            return  # not a model call, or one still in its own scope (not a suspended stream)
        if kind in ("LLMChatInProgressEvent", "LLMCompletionInProgressEvent"):
            now = time.perf_counter_ns()
            inv.first_chunk_ns = inv.first_chunk_ns or now
            inv.last_chunk_ns = now
            inv.chunk_count += 1
        elif kind == "ExceptionEvent":
            runs.end(event.span_id, event.exception)
        else:  # the stream's end
            if inv.owner is None:
                m.model_response(inv, event.response, self.span_handler.capture)
            runs.end(event.span_id)


_STREAM_EVENTS = frozenset(
    {
        "LLMChatInProgressEvent",
        "LLMCompletionInProgressEvent",
        "LLMChatEndEvent",
        "LLMCompletionEndEvent",
        "ExceptionEvent",
    }
)
