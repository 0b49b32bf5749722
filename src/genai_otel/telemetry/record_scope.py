"""Spans for the application's own agent and tool code: one record per call or ``with`` block.

:class:`RecordScope` is what :func:`genai_otel.agent` and :func:`genai_otel.tool` return: a decorator
(sync, async, generator and async generator functions) and a sync or async context manager. Agent
records go through the agent-run engine (:mod:`genai_otel.telemetry.agent_runs`); our own failures
never stop the user's code, which then runs without a span.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from genai_otel.safety import report_internal_error
from genai_otel.telemetry.agent_runs import finish_run, open_in_context
from genai_otel.telemetry.handler import TelemetryHandler, default_handler
from genai_otel.telemetry.invocation import AgentInvocation, Invocation, ToolInvocation
from genai_otel.telemetry.scoped import drive_async, drive_sync

__all__ = ["ActiveRecord", "RecordScope"]

F = TypeVar("F", bound=Callable[..., Any])
#: One call of a decorated function: its signature (if it has one), positional and keyword arguments.
Call = tuple[inspect.Signature | None, tuple, dict]


class ActiveRecord:
    """One open agent/tool span: what ``with genai_otel.agent(...) as active`` returns."""

    __slots__ = ("context", "handler", "invocation")

    def __init__(self, handler: TelemetryHandler, inv: Invocation, context: Context) -> None:
        self.handler = handler
        self.invocation = inv
        self.context = context

    @property
    def span(self) -> Span:
        return self.invocation.span or trace.INVALID_SPAN

    def set_result(self, result: Any) -> None:
        """Record a tool's result (kept only under content capture)."""
        if isinstance(self.invocation, ToolInvocation) and self.handler.capture_content:
            self.invocation.result = result

    def set_output(self, messages: list[dict[str, Any]]) -> None:
        """Record an agent's output messages (GenAI message JSON shape; content capture only)."""
        if isinstance(self.invocation, AgentInvocation) and self.handler.capture_content:
            self.invocation.output_messages = messages

    def close(self, error: BaseException | None, result: Any = None) -> None:
        """End the span: failed with ``error``, else with the decorated function's ``result``."""
        if result is not None:  # None is what a record holds already
            self.set_result(result)
        # Inline rather than through ``safely``: this runs on every call (same catch-and-log-once).
        try:
            finish_run(self.invocation, self.context)
        except Exception:
            report_internal_error("agent")
        try:
            if error is None:
                self.handler.stop(self.invocation)
            else:
                self.handler.fail(self.invocation, error)
        except Exception:
            report_internal_error("agent")


@dataclass
class RecordScope:
    """Decorator and (async) context manager that opens one span per call or ``with`` block."""

    #: The record made per call or block: ``record(**fields)``, named after the decorated function (in its
    #: field ``name_field``) when the scope has no ``name``.
    record: type[Invocation]
    fields: dict[str, Any]
    name_field: str
    name: str | None
    _entered: contextvars.ContextVar[tuple[tuple[ActiveRecord, object], ...]] = field(
        default_factory=lambda: contextvars.ContextVar("genai_otel_scope", default=())
    )

    # -- opening and closing -------------------------------------------------------------------

    def _open(self, name: str | None = None, call: Call | None = None) -> ActiveRecord:
        """Open the record (named ``name`` unless the scope has a name) of a block or of a ``call`` of the
        decorated function, whose arguments a tool records under content capture."""
        handler = default_handler()
        inv = (
            self.record(**self.fields)
            if name is None
            else self.record(**self.fields, **{self.name_field: name})
        )
        # Binding arguments costs a few microseconds: only when they are recorded.
        if call is not None and isinstance(inv, ToolInvocation) and handler.capture_content:
            inv.arguments = _arguments(*call)
        try:
            ctx, error = open_in_context(handler, inv, otel_context.get_current())
        except Exception:  # our bug: run the user's code without a span
            report_internal_error("agent")
            return ActiveRecord(handler, inv, otel_context.get_current())
        active = ActiveRecord(handler, inv, ctx)
        if error is not None:
            active.close(error)
            raise error
        return active

    def __enter__(self) -> ActiveRecord:
        active = self._open()
        token = otel_context.attach(active.context)
        self._entered.set((*self._entered.get(), (active, token)))
        return active

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        *rest, (active, token) = self._entered.get()
        self._entered.set(tuple(rest))
        otel_context.detach(token)
        active.close(exc)

    async def __aenter__(self) -> ActiveRecord:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorating ----------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        name = None if self.name is not None else getattr(fn, "__name__", None)
        signature = _signature(fn)

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = self._open(name, (signature, args, kwargs))
                async for item in drive_async(fn(*args, **kwargs), active.context, active.close):
                    yield item

            return agen_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = self._open(name, (signature, args, kwargs))
                return (yield from drive_sync(fn(*args, **kwargs), active.context, active.close))

            return gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = self._open(name, (signature, args, kwargs))
                result = await _run_async(active, fn, args, kwargs)
                active.close(None, result)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            active = self._open(name, (signature, args, kwargs))
            token = otel_context.attach(active.context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                active.close(error)
                raise
            finally:
                otel_context.detach(token)
            active.close(None, result)
            return result

        return sync_wrapper  # type: ignore[return-value]


async def _run_async(active: ActiveRecord, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    token = otel_context.attach(active.context)
    try:
        return await fn(*args, **kwargs)
    except BaseException as error:
        active.close(error)
        raise
    finally:
        otel_context.detach(token)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _arguments(signature: inspect.Signature | None, args: tuple, kwargs: dict) -> Any:
    if signature is None:
        return {"args": list(args), **kwargs} if args else dict(kwargs)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return None
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
