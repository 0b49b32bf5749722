"""ADK's own telemetry, silenced where ours covers the same work: one set of spans, events and metrics.

ADK opens ``invocation`` / ``invoke_workflow`` (the runner turn), ``invoke_agent``, ``call_llm`` /
``generate_content`` and ``execute_tool`` spans through one module-level tracer, emits GenAI events
through one logger, and records the GenAI client and agent metrics in ``telemetry._metrics``. While
genai-otel instruments ADK:

* those spans become placeholders: non-recording spans carrying their parent's span context, so
  whatever ADK (or the user) opens beneath them descends from the parent -- our span. ADK's other spans
  (context caching, event compaction, workflow graph nodes) are kept; they are not ours to replace;
* ADK's ``gen_ai.*`` log events are dropped (ours carry the content, under our content-capture setting);
* the metric recorders that duplicate ours (:data:`DUPLICATED_METRICS`) record nothing.

The tracer and logger are shared instances other ADK modules imported by name, so their methods are
overridden on the instances themselves; :func:`silence` returns the function that puts them back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span

#: First word of the names of the ADK spans our records replace.
_COVERED_SPANS = frozenset(
    {"invocation", "invoke_workflow", "invoke_agent", "call_llm", "generate_content", "execute_tool"}
)

#: ``google.adk.telemetry._metrics`` recorders of metrics genai-otel records itself: the client operation
#: duration and token usage (the model-call spans), tool and agent/workflow durations, the per-agent
#: model and tool call counts.
DUPLICATED_METRICS = (
    "record_client_operation_duration",
    "record_client_token_usage",
    "record_tool_execution_duration",
    "record_agent_invocation_duration",
    "record_workflow_invocation_duration",
    "record_invoke_agent_inference_calls",
    "record_invoke_agent_tool_calls",
)


def not_recorded(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> None:
    """Wrapper of a duplicated metric recorder: records nothing."""
    return None


def _covered(name: Any) -> bool:
    return isinstance(name, str) and name.split(" ", 1)[0] in _COVERED_SPANS


def _placeholder(context: otel_context.Context | None) -> Span:
    return NonRecordingSpan(trace.get_current_span(context).get_span_context())


def _quiet_tracer_methods(tracer: Any) -> dict[str, Callable[..., Any]]:
    start_span = tracer.start_span
    start_as_current_span = tracer.start_as_current_span

    def quiet_start_span(*args: Any, **kwargs: Any) -> Span:
        name = args[0] if args else kwargs.get("name")
        if not _covered(name):
            return start_span(*args, **kwargs)
        return _placeholder(args[1] if len(args) > 1 else kwargs.get("context"))

    @contextlib.contextmanager
    def _current_placeholder(context: otel_context.Context | None) -> Iterator[Span]:
        span = _placeholder(context)
        token = otel_context.attach(trace.set_span_in_context(span, context))
        try:
            yield span
        finally:
            otel_context.detach(token)

    def quiet_start_as_current_span(*args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else kwargs.get("name")
        if not _covered(name):
            return start_as_current_span(*args, **kwargs)
        return _current_placeholder(args[1] if len(args) > 1 else kwargs.get("context"))

    return {"start_span": quiet_start_span, "start_as_current_span": quiet_start_as_current_span}


def _quiet_logger_methods(logger: Any) -> dict[str, Callable[..., Any]]:
    emit = logger.emit

    def quiet_emit(*args: Any, **kwargs: Any) -> None:
        record = args[0] if args else kwargs.get("record")
        name = getattr(record, "event_name", None) or kwargs.get("event_name")
        if isinstance(name, str) and name.startswith("gen_ai."):
            return None
        return emit(*args, **kwargs)

    return {"emit": quiet_emit}


def _override(obj: Any, methods: dict[str, Callable[..., Any]]) -> Callable[[], None]:
    before = {name: vars(obj)[name] for name in methods if name in vars(obj)}
    for name, method in methods.items():
        setattr(obj, name, method)

    def restore() -> None:
        for name in methods:
            if name in before:
                setattr(obj, name, before[name])
            else:
                vars(obj).pop(name, None)

    return restore


def silence(tracing_module: Any) -> Callable[[], None]:
    """Silence ADK's tracer and GenAI events (``google.adk.telemetry.tracing``); returns the undo."""
    restores = [
        _override(tracing_module.tracer, _quiet_tracer_methods(tracing_module.tracer)),
        _override(tracing_module.otel_logger, _quiet_logger_methods(tracing_module.otel_logger)),
    ]

    def restore() -> None:
        for undo in reversed(restores):
            undo()

    return restore
