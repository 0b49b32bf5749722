"""Haystack's tracing backend (``haystack.tracing.Tracer``) emitting GenAI spans."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from haystack import tracing

from genai_otel import semconv
from genai_otel.instrumentation._framework import Run, RunTracker
from genai_otel.instrumentation.haystack import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import AgentInvocation, TelemetryHandler, ToolInvocation


class GenAISpan(tracing.Span):
    """One Haystack span; its tags fill the GenAI record (content tags only under our content capture)."""

    def __init__(self, tracer: GenAITracer, operation_name: str, tags: dict[str, Any]) -> None:
        self._tracer = tracer
        self.operation_name = operation_name
        self.tags = tags
        self.run: Run | None = None
        #: Set when this span is folded into its parent (the Agent component's own ``haystack.agent.run``).
        self.alias_of: GenAISpan | None = None

    def _target(self) -> GenAISpan:
        return self.alias_of or self

    def set_tag(self, key: str, value: Any) -> None:
        try:
            self._target()._tag(key, value)
        except Exception:
            report_internal_error("haystack.set_tag")

    def set_content_tag(self, key: str, value: Any) -> None:
        # Always received: outputs carry usage and model even when content is not captured.
        self.set_tag(key, value)

    def raw_span(self) -> Any:
        run = self._target().run
        return run.inv.span if run is not None and run.inv is not None else (run.span if run else None)

    def _tag(self, key: str, value: Any) -> None:
        inv = self.run.inv if self.run is not None else None
        if inv is None or (inv.owner is not None and key not in m.INPUT_TAGS):
            return
        capture = self._tracer.handler.capture_content
        if key in m.INPUT_TAGS:
            m.on_input(inv, value, capture)
        elif key in m.OUTPUT_TAGS:
            m.on_output(inv, value, capture)
        elif isinstance(inv, ToolInvocation):
            m.on_tool(inv, key, value, capture)


_CURRENT: ContextVar[GenAISpan | None] = ContextVar("genai_otel_haystack_span", default=None)


class GenAITracer(tracing.Tracer):
    """Enabled with ``haystack.tracing.enable_tracing`` by :class:`HaystackInstrumentor`."""

    def __init__(self, handler: TelemetryHandler) -> None:
        self.handler = handler
        self.runs = RunTracker(handler)

    @contextlib.contextmanager
    def trace(
        self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: tracing.Span | None = None
    ) -> Iterator[tracing.Span]:
        parent = parent_span if isinstance(parent_span, GenAISpan) else _CURRENT.get()
        span = GenAISpan(self, operation_name, dict(tags or {}))
        self._open(span, parent)
        token = _CURRENT.set(span)
        try:
            yield span
        except BaseException as error:
            self._close(span, error)
            raise
        else:
            self._close(span, None)
        finally:
            _CURRENT.reset(token)

    def current_span(self) -> tracing.Span | None:
        return _CURRENT.get()

    def _open(self, span: GenAISpan, parent: GenAISpan | None) -> None:
        try:
            parent_target = parent._target() if parent is not None else None
            inv = m.record_for(span.operation_name, span.tags)
            if _folds_into(parent_target, span.operation_name):
                span.alias_of = parent_target
                return
            parent_id = parent_target if parent_target is not None and parent_target.run is not None else None
            if inv is None:
                span.run = self.runs.start(span, parent_id, name=_internal_name(span))
            else:
                name, kind = span.tags.get(m.COMPONENT_NAME), span.tags.get(m.COMPONENT_TYPE)
                if name:
                    inv.attributes[semconv.GENAI_OTEL_COMPONENT_NAME] = str(name)
                if kind:
                    inv.attributes[semconv.GENAI_OTEL_COMPONENT_TYPE] = str(kind)
                span.run = self.runs.start(span, parent_id, inv)
        except Exception:
            report_internal_error("haystack.trace")

    def _close(self, span: GenAISpan, error: BaseException | None) -> None:
        if span.alias_of is not None or span.run is None:
            return
        try:
            if span.run.inv is not None:
                m.finish(span.run.inv)
            self.runs.end(span, error)
        except Exception:
            report_internal_error("haystack.trace_end")


def _folds_into(parent: GenAISpan | None, operation_name: str) -> bool:
    # An Agent component opens "haystack.agent.run" right inside its own component span: one agent.
    if parent is None or parent.run is None:
        return False
    return operation_name == "haystack.agent.run" and isinstance(parent.run.inv, AgentInvocation)


def _internal_name(span: GenAISpan) -> str:
    name = span.tags.get(m.COMPONENT_NAME)
    if span.operation_name == "haystack.component.run" and name:
        return str(name)
    return span.operation_name
