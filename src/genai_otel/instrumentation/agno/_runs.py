"""Agno's run, model-call and tool-call methods, each call one record whose context is current while the
method (or, for a stream, each of its steps) runs.

Agno turns failures into results (a run whose model call failed returns ``status=ERROR``, a failed tool
call returns ``status="failure"``), so a record is marked failed from the result as well as from an
exception; a model error is noted on the enclosing run, which reports it as its own ``error.type``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from genai_otel.instrumentation._agents import current
from genai_otel.instrumentation._base import Wrapper
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry import AgentInvocation, TelemetryHandler
from genai_otel.telemetry.agent_runs import AgentLoopError, finish_run, open_in_context
from genai_otel.telemetry.invocation import Invocation
from genai_otel.telemetry.ownership import live_context
from genai_otel.telemetry.scoped import drive_async, drive_sync

_RUN = otel_context.create_key("genai_otel.agno_run")


class Scope:
    """One open record and the context work inside it runs in."""

    def __init__(self, handler: TelemetryHandler, inv: Invocation) -> None:
        self.handler = handler
        self.inv = inv
        #: A failure inside the run that Agno turned into the run's result (agent and team runs).
        self.failure: BaseException | None = None
        parent = live_context()
        self.run: Scope | None = otel_context.get_value(_RUN, parent)  # type: ignore[assignment]
        self.context, error = open_in_context(handler, inv, parent)
        if isinstance(inv, AgentInvocation):
            self.context = otel_context.set_value(_RUN, self, self.context)
        if error is not None:  # the loop guard says stop: raised into Agno's run
            self.end(error)
            raise error

    def end(self, error: BaseException | None) -> None:
        if error is not None and self.run is not None and not isinstance(self.inv, AgentInvocation):
            self.run.failure = error
        finish_run(self.inv, self.context)
        if error is None:
            safely("agno", self.handler.stop, self.inv)
        else:
            safely("agno", self.handler.fail, self.inv, error)


#: Builds the record for a call: ``(handler, instance, args, kwargs) -> record``.
Build = Callable[[TelemetryHandler, Any, tuple, dict], Invocation]
#: Fills the record once the call is done: ``(scope, args, kwargs, result) -> failure or None``, or
#: :data:`STILL_RUNNING` when the work goes on (a tool returning a generator ends the scope itself).
Done = Callable[[Scope, tuple, dict, Any], Any]
STILL_RUNNING = object()


@dataclass(frozen=True)
class Traced:
    """How one Agno method becomes a record."""

    name: str
    build: Build
    done: Done


def _open(
    handler: TelemetryHandler, traced: Traced, instance: Any, args: tuple, kwargs: dict
) -> Scope | None:
    if not is_instrumentation_enabled():
        return None
    try:
        return Scope(handler, traced.build(handler, instance, args, kwargs))
    except AgentLoopError:
        raise
    except Exception:
        report_internal_error(traced.name)
        return None


def _finish(traced: Traced, scope: Scope, args: tuple, kwargs: dict, result: Any) -> None:
    try:
        failure = traced.done(scope, args, kwargs, result)
    except Exception:
        report_internal_error(traced.name)
        failure = None
    if failure is not STILL_RUNNING:
        scope.end(failure)


FUNCTION, COROUTINE, GENERATOR, ASYNC_GENERATOR = "function", "coroutine", "generator", "async generator"


def shape_of(method: Any) -> str:
    if inspect.isasyncgenfunction(method):
        return ASYNC_GENERATOR
    if inspect.isgeneratorfunction(method):
        return GENERATOR
    return COROUTINE if inspect.iscoroutinefunction(method) else FUNCTION


def wrapper_for(handler: TelemetryHandler, traced: Traced, shape: str) -> Wrapper:
    """The wrapper for a method of ``shape`` (see :func:`shape_of`)."""
    if shape in (GENERATOR, ASYNC_GENERATOR):
        drive = drive_async if shape == ASYNC_GENERATOR else drive_sync

        def stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            scope = _open(handler, traced, instance, args, kwargs)
            if scope is None:
                return wrapped(*args, **kwargs)

            def finish(error: BaseException | None) -> None:
                if error is None:
                    _finish(traced, scope, args, kwargs, None)
                else:
                    scope.end(error)

            return drive(wrapped(*args, **kwargs), scope.context, finish)

        return stream
    if shape == COROUTINE:

        async def coroutine(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            scope = _open(handler, traced, instance, args, kwargs)
            if scope is None:
                return await wrapped(*args, **kwargs)
            with current(scope.context, scope.end):
                result = await wrapped(*args, **kwargs)
            _finish(traced, scope, args, kwargs, result)
            return result

        return coroutine

    def function(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        scope = _open(handler, traced, instance, args, kwargs)
        if scope is None:
            return wrapped(*args, **kwargs)
        with current(scope.context, scope.end):
            result = wrapped(*args, **kwargs)
        _finish(traced, scope, args, kwargs, result)
        return result

    return function
