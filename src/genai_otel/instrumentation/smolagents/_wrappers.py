"""The wrappers: agent runs and streamed model calls are generators, driven with their span's context
current only while they run (:mod:`genai_otel.telemetry.scoped`), so a consumer that iterates a run --
or stops early -- never sees the run's context."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Generator
from typing import Any

from opentelemetry import context as otel_context

from genai_otel.instrumentation._agents import current
from genai_otel.instrumentation._base import Wrapper
from genai_otel.instrumentation.smolagents import _mapping
from genai_otel.safety import safely
from genai_otel.telemetry.agent_runs import finish_run, open_in_context
from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import Invocation
from genai_otel.telemetry.scoped import drive_sync

#: The model classes smolagents ships (each wrapped where it defines ``generate`` / ``generate_stream``).
MODEL_CLASSES = (
    "OpenAIModel",
    "LiteLLMModel",
    "InferenceClientModel",
    "AmazonBedrockModel",
    "TransformersModel",
    "VLLMModel",
    "MLXModel",
)
# The ids of the tool calls a ToolCallingAgent step is executing, by tool name, for the tool spans.
_CALL_IDS = otel_context.create_key("genai_otel.smolagents_tool_call_ids")


def defined_here(owner: Any, method: str) -> bool:
    return method in vars(owner)


class _Span:
    """One record's span: opened in the current context, closed once."""

    def __init__(self, handler: TelemetryHandler, inv: Invocation | None) -> None:
        self.handler = handler
        self.inv = inv
        self.context: otel_context.Context | None = None
        self.loop_error: BaseException | None = None
        if inv is not None:
            opened = safely("smolagents", open_in_context, handler, inv, otel_context.get_current())
            if opened is not None:
                self.context, self.loop_error = opened

    def close(self, error: BaseException | None) -> None:
        if self.inv is None or self.context is None or self.inv.ended:
            return
        safely("smolagents", finish_run, self.inv, self.context)
        if error is None:
            safely("smolagents", self.handler.stop, self.inv)
        else:
            safely("smolagents", self.handler.fail, self.inv, error)

    def call(
        self, function: Callable[..., Any], args: tuple, kwargs: dict, what: str, record: Callable
    ) -> Any:
        """``function`` with the span current; the span ends with its error, or with its result, which
        ``record(inv, result)`` maps."""
        if self.context is None:
            return function(*args, **kwargs)
        with current(self.context, self.close):
            self.raise_loop_error()
            result = function(*args, **kwargs)
        safely(what, record, self.inv, result)
        self.close(None)
        return result

    def drive(self, gen: Any, observe: Callable[[Any], None], finish: Callable[[], None]) -> Generator:
        """Iterate the generator ``gen`` with the span current; the span ends with it."""
        if self.context is None:
            return (yield from gen)
        try:
            self.raise_loop_error()
        except BaseException:
            gen.close()
            raise

        def end(error: BaseException | None) -> None:
            if error is None:
                safely("smolagents", finish)
            self.close(error)

        return (yield from drive_sync(gen, self.context, end, observe))

    def raise_loop_error(self) -> None:
        if self.loop_error is not None:
            error, self.loop_error = self.loop_error, None
            self.close(error)
            raise error


def trace_run(handler: TelemetryHandler) -> Wrapper:
    """``MultiStepAgent._run_stream``: the generator every run iterates, streamed or not."""

    def run(agent: Any, gen: Any, task: Any) -> Generator:
        capture = handler.capture_content
        span = _Span(handler, safely("smolagents run", _mapping.agent_record, agent, task, capture))
        outputs: list[Any] = []

        def observe(item: Any) -> None:
            if type(item).__name__ == "FinalAnswerStep":
                outputs.append(item.output)

        def finish() -> None:
            if span.inv is not None and outputs:
                _mapping.agent_output(span.inv, outputs[-1], capture)

        return (yield from span.drive(gen, observe, finish))

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        task = args[0] if args else kwargs.get("task")
        return run(instance, wrapped(*args, **kwargs), task)

    return wrapper


def trace_generate(handler: TelemetryHandler) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        capture = handler.capture_content
        inv = safely("smolagents model", _mapping.chat_record, instance, args, kwargs, capture)
        record = functools.partial(_mapping.chat_response, capture=capture)
        return _Span(handler, inv).call(wrapped, args, kwargs, "smolagents model", record)

    return wrapper


def trace_generate_stream(handler: TelemetryHandler) -> Wrapper:
    """``generate_stream``: a generator of ``ChatMessageStreamDelta``; the span opens when it is first
    iterated (where the client call is made, which then merges into it) and ends with it."""

    def stream(model: Any, gen: Any, args: tuple, kwargs: dict) -> Generator:
        capture = handler.capture_content
        inv = safely("smolagents model", _mapping.chat_record, model, args, kwargs, capture)
        if inv is not None:
            inv.stream = True
        span = _Span(handler, inv)
        deltas: list[Any] = []

        def finish() -> None:
            from smolagents.models import agglomerate_stream_deltas

            if inv is not None:
                _mapping.chat_response(inv, agglomerate_stream_deltas(deltas), capture)

        return (yield from span.drive(gen, deltas.append, finish))

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        return stream(instance, wrapped(*args, **kwargs), args, kwargs)

    return wrapper


def with_tool_call_ids(handler: TelemetryHandler) -> Wrapper:
    """``ToolCallingAgent.process_tool_calls``: the step's tool calls, made known to the tool spans (the
    tools are called by name, in this generator or in threads it starts with a copy of its context)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        chat_message = args[0] if args else kwargs.get("chat_message")
        ids = safely("smolagents tool ids", _call_ids, chat_message)
        if not ids:
            return wrapped(*args, **kwargs)
        return drive_sync(wrapped(*args, **kwargs), otel_context.set_value(_CALL_IDS, ids))

    return wrapper


def _call_ids(chat_message: Any) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for call in getattr(chat_message, "tool_calls", None) or ():
        ids.setdefault(call.function.name, []).append(call.id)
    return ids


def trace_tool(handler: TelemetryHandler) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        capture = handler.capture_content
        call_id = safely("smolagents tool", _next_call_id, getattr(instance, "name", None))
        inv = safely("smolagents tool", _mapping.tool_record, instance, args, kwargs, call_id, capture)
        record = functools.partial(_mapping.tool_result, capture=capture)
        return _Span(handler, inv).call(wrapped, args, kwargs, "smolagents tool", record)

    return wrapper


def _next_call_id(tool_name: str | None) -> str | None:
    ids = otel_context.get_value(_CALL_IDS)
    pending = ids.get(tool_name) if isinstance(ids, dict) else None
    return pending.pop(0) if pending else None


def code_in_caller_context(handler: TelemetryHandler) -> Wrapper:
    """``local_python_executor.timeout``: a ``CodeAgent``'s code runs in a worker thread (for its time
    limit), which starts with an empty context; run it in the calling step's, so the tools the code calls
    are traced under the agent's span."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        limit = wrapped(*args, **kwargs)

        def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(function)
            def in_caller_context(*call_args: Any, **call_kwargs: Any) -> Any:
                caller = contextvars.copy_context()
                return limit(functools.partial(caller.run, function))(*call_args, **call_kwargs)

            return in_caller_context

        return decorator

    return wrapper
