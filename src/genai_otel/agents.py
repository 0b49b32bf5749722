"""Agent and tool spans for your own code, and the agent loop guard.

    @genai_otel.agent("planner", description="Breaks a task into steps")
    def plan(task): ...

    async with genai_otel.agent("researcher", conversation_id=session_id) as run:
        ...

    @genai_otel.tool("search_docs")
    def search_docs(query: str) -> list[str]: ...

Both work as decorators (sync, async, generator and async generator functions) and as sync or
async context managers. An agent span carries ``gen_ai.agent.*`` plus the agent path and hop count,
which travel to other services as baggage (see :mod:`genai_otel.propagation`), so the loop guard
can count agent hops along a whole distributed trace and model/tool calls per agent invocation.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from genai_otel import semconv
from genai_otel.config import LoopGuardAction
from genai_otel.propagation import policy
from genai_otel.safety import safely
from genai_otel.telemetry.handler import TelemetryHandler, default_handler
from genai_otel.telemetry.invocation import AgentInvocation, Invocation, ToolInvocation
from genai_otel.telemetry.scoped import drive_async, drive_sync

__all__ = ["AgentLoopError", "agent", "current_agent_path", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

LOOP_GUARD_EVENT = "genai_otel.loop_guard.triggered"
_PATH_SEPARATOR = ">"
_PATH_KEEP = 16
_RUN = otel_context.create_key("genai_otel.agent_run")


class AgentLoopError(RuntimeError):
    """Raised into agent code when a loop-guard limit is hit and the action is ``raise``."""

    def __init__(self, limit: str, value: int, maximum: int, path: str | None) -> None:
        self.limit, self.value, self.maximum, self.path = limit, value, maximum, path
        what = "agent hops along this trace" if limit == "hops" else "model/tool calls in this agent run"
        super().__init__(
            f"genai-otel loop guard: {value} {what} exceeds the limit of {maximum} (path: {path})"
        )


@dataclass(eq=False)
class _AgentRun:
    invocation: AgentInvocation
    parent: _AgentRun | None
    steps: int = 0

    def chain(self) -> Iterator[_AgentRun]:
        run: _AgentRun | None = self
        while run is not None:
            yield run
            run = run.parent


def current_agent_path(context: Context | None = None) -> str | None:
    """The agent path (``supervisor>researcher``) of the current context, local or propagated."""
    value = baggage.get_baggage(policy.AGENT_PATH, context)
    return str(value) if value is not None else None


def _trip(
    handler: TelemetryHandler, limit: str, value: int, maximum: int, spans: list[Span], path: str | None
) -> AgentLoopError | None:
    """Mark the spans the limit concerns; return the error to raise when the action says so."""
    for span in spans:
        span.set_attribute(semconv.GENAI_OTEL_LOOP_GUARD_LIMIT, limit)
    if spans:
        spans[0].add_event(
            LOOP_GUARD_EVENT,
            {
                semconv.GENAI_OTEL_LOOP_GUARD_LIMIT: limit,
                semconv.GENAI_OTEL_LOOP_GUARD_VALUE: value,
                semconv.GENAI_OTEL_LOOP_GUARD_MAXIMUM: maximum,
            },
        )
    if handler.settings.loop_guard_action is LoopGuardAction.RAISE:
        return AgentLoopError(limit, value, maximum, path)
    return None


def count_step(handler: TelemetryHandler, inv: Invocation) -> AgentLoopError | None:
    """Count a model or tool call against the current agent run's step limit.

    Returns the :class:`AgentLoopError` the caller must raise (action ``raise``), else ``None``.
    """
    run: _AgentRun | None = otel_context.get_value(_RUN)  # type: ignore[assignment]
    if run is None or inv.owner is not None:  # a call merged into a framework's span is already counted
        return None
    return _count(handler, inv, run)


def _count(handler: TelemetryHandler, inv: Invocation, run: _AgentRun) -> AgentLoopError | None:
    if not (inv.is_inference or inv.operation == semconv.OPERATION_EXECUTE_TOOL):
        return None  # steps are model and tool calls; embeddings and store queries are not
    run.steps += 1
    maximum = handler.settings.max_agent_steps
    if not maximum or run.steps <= maximum:
        return None
    spans = [s for s in [inv.span, *(r.invocation.span for r in run.chain())] if s is not None]
    return _trip(handler, "steps", run.steps, maximum, spans, current_agent_path())


def _extend_path(path: str | None, name: str, max_length: int) -> str:
    clean = "".join(ch for ch in name if ch.isprintable() and ch != _PATH_SEPARATOR) or "agent"
    names = [*(path.split(_PATH_SEPARATOR) if path else []), clean][-_PATH_KEEP:]
    joined = _PATH_SEPARATOR.join(names)
    while len(joined) > max_length and len(names) > 1:
        names = names[1:]
        joined = _PATH_SEPARATOR.join(names)
    return joined[-max_length:]


class _Active:
    """One open agent/tool span: what ``with genai_otel.agent(...) as active`` returns."""

    def __init__(self, handler: TelemetryHandler, inv: Invocation, context: Context) -> None:
        self.handler = handler
        self.invocation = inv
        self.context = context
        self.run: _AgentRun | None = otel_context.get_value(_RUN, context)  # type: ignore[assignment]

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

    def close(self, error: BaseException | None) -> None:
        record_steps(self.invocation, self.context)
        if error is None:
            safely("agent", self.handler.stop, self.invocation)
        else:
            safely("agent", self.handler.fail, self.invocation, error)


@dataclass
class _Scope:
    """Decorator and (async) context manager that opens one span per call or ``with`` block."""

    make: Callable[[], Invocation]
    name: str | None
    _entered: contextvars.ContextVar[tuple[tuple[_Active, object], ...]] = field(
        default_factory=lambda: contextvars.ContextVar("genai_otel_scope", default=())
    )

    # -- opening and closing -------------------------------------------------------------------

    def _open(self, name: str | None = None, arguments: Any = None) -> _Active:
        handler = default_handler()
        inv = self.make()
        if name is not None:
            _set_name(inv, name)
        if arguments is not None and isinstance(inv, ToolInvocation) and handler.capture_content:
            inv.arguments = arguments
        opened = safely("agent", _start, handler, inv)
        if opened is None:  # our bug: run the user's code without a span
            return _Active(handler, inv, otel_context.get_current())
        active, error = opened
        if error is not None:
            active.close(error)
            raise error
        return active

    def __enter__(self) -> _Active:
        active = self._open()
        token = otel_context.attach(active.context)
        self._entered.set((*self._entered.get(), (active, token)))
        return active

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        *rest, (active, token) = self._entered.get()
        self._entered.set(tuple(rest))
        otel_context.detach(token)
        active.close(exc)

    async def __aenter__(self) -> _Active:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorating ----------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        name = self.name or getattr(fn, "__name__", None)
        signature = _signature(fn)

        def open_for(args: tuple, kwargs: dict) -> _Active:
            # Binding arguments costs a few microseconds: only when they may be recorded.
            capture = default_handler().capture_content
            return self._open(name, _arguments(signature, args, kwargs) if capture else None)

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = open_for(args, kwargs)
                async for item in drive_async(fn(*args, **kwargs), active.context, active.close):
                    yield item

            return agen_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = open_for(args, kwargs)
                return (yield from drive_sync(fn(*args, **kwargs), active.context, active.close))

            return gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = open_for(args, kwargs)
                return _finish(active, await _run_async(active, fn, args, kwargs))

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            active = open_for(args, kwargs)
            token = otel_context.attach(active.context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                active.close(error)
                raise
            finally:
                otel_context.detach(token)
            return _finish(active, result)

        return sync_wrapper  # type: ignore[return-value]


def _finish(active: _Active, result: Any) -> Any:
    active.set_result(result)
    active.close(None)
    return result


async def _run_async(active: _Active, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
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


def _set_name(inv: Invocation, name: str) -> None:
    if isinstance(inv, AgentInvocation) and inv.agent_name is None:
        inv.agent_name = name
    elif isinstance(inv, ToolInvocation) and inv.tool_name is None:
        inv.tool_name = name


def _start(handler: TelemetryHandler, inv: Invocation) -> tuple[_Active, AgentLoopError | None]:
    ctx, error = open_in_context(handler, inv, otel_context.get_current())
    return _Active(handler, inv, ctx), error


def open_in_context(
    handler: TelemetryHandler, inv: Invocation, ctx: Context
) -> tuple[Context, AgentLoopError | None]:
    """Open ``inv``'s span under ``ctx`` (not made current) with the agent bookkeeping: agents get
    their hop/path baggage and a run that counts the model and tool calls below them against the
    loop guard. Returns the context for work inside the span and the guard's error (action
    ``raise``) for the caller to raise. Used by the decorators and the framework integrations."""
    parent_run: _AgentRun | None = otel_context.get_value(_RUN, ctx)  # type: ignore[assignment]
    if isinstance(inv, AgentInvocation):
        ctx = _enter_agent(handler, inv, ctx)
    handler.start(inv, activate=False, context=ctx)
    if inv.owner is not None:  # merged into the framework record that owns this call
        return ctx, None
    ctx = handler.context_for(inv, ctx)
    error = None
    if isinstance(inv, AgentInvocation):
        run = _AgentRun(inv, parent_run)
        ctx = otel_context.set_value(_RUN, run, ctx)
        hops = inv.attributes[semconv.GENAI_OTEL_AGENT_HOPS]
        maximum = handler.settings.max_agent_hops
        if maximum and hops > maximum and inv.kind is not SpanKind.CLIENT:
            spans = [r.invocation.span for r in run.chain() if r.invocation.span is not None]
            error = _trip(handler, "hops", hops, maximum, spans, current_agent_path(ctx))
            ctx = baggage.set_baggage(policy.LOOP_GUARD_LIMIT, "hops", ctx)
    elif parent_run is not None:
        error = _count(handler, inv, parent_run)
    return ctx, error


def record_steps(inv: Invocation, ctx: Context) -> None:
    """Put the number of steps an agent run took on its span (call before ending it)."""
    run: _AgentRun | None = otel_context.get_value(_RUN, ctx)  # type: ignore[assignment]
    if run is not None and run.invocation is inv:
        inv.response_attributes[semconv.GENAI_OTEL_AGENT_STEPS] = run.steps


def _enter_agent(handler: TelemetryHandler, inv: AgentInvocation, ctx: Context) -> Context:
    """Baggage for the agent's subtree: one more hop, the extended path, the conversation."""
    raw_hops = baggage.get_baggage(policy.AGENT_HOPS, ctx)
    hops = (int(raw_hops) if isinstance(raw_hops, str) and raw_hops.isdigit() else 0) + 1
    path = _extend_path(
        current_agent_path(ctx), inv.agent_name or inv.operation, handler.settings.baggage_max_value_length
    )
    inv.attributes[semconv.GENAI_OTEL_AGENT_HOPS] = hops
    inv.attributes[semconv.GENAI_OTEL_AGENT_PATH] = path
    if inv.kind is SpanKind.CLIENT:
        # A call to a remote agent: the agent itself counts the hop when it starts over there.
        return ctx
    ctx = baggage.set_baggage(policy.AGENT_HOPS, str(hops), ctx)
    ctx = baggage.set_baggage(policy.AGENT_PATH, path, ctx)
    if inv.conversation_id is not None:
        ctx = baggage.set_baggage(policy.CONVERSATION_ID, inv.conversation_id, ctx)
    return ctx


def agent(
    name: str | Callable[..., Any] | None = None,
    *,
    operation: str = semconv.OPERATION_INVOKE_AGENT,
    agent_id: str | None = None,
    description: str | None = None,
    version: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    conversation_id: str | None = None,
    remote: bool = False,
) -> Any:
    """An ``invoke_agent`` (or ``create_agent`` / ``invoke_workflow``) span, as decorator or context manager.

    ``remote=True`` makes the span CLIENT (calling an agent in another service); in-process agents
    are INTERNAL. ``conversation_id`` is set on the span and propagated as baggage, so model and
    tool spans beneath it -- in this process and downstream services -- carry it too.
    """
    fn = name if callable(name) else None
    label = None if callable(name) else name

    def make() -> Invocation:
        return AgentInvocation(
            operation=operation,
            agent_name=label,
            agent_id=agent_id,
            agent_description=description,
            agent_version=version,
            provider=provider,
            request_model=model,
            conversation_id=conversation_id,
            kind=SpanKind.CLIENT if remote else SpanKind.INTERNAL,
        )

    scope = _Scope(make, label)
    return scope(fn) if fn is not None else scope


def tool(
    name: str | Callable[..., Any] | None = None,
    *,
    description: str | None = None,
    tool_type: str = "function",
    call_id: str | None = None,
) -> Any:
    """An ``execute_tool`` span, as decorator or context manager. Under content capture the
    decorated function's arguments and result are recorded. Counts as a step of the current agent."""
    fn = name if callable(name) else None
    label = None if callable(name) else name

    def make() -> Invocation:
        return ToolInvocation(
            tool_name=label, tool_description=description, tool_type=tool_type, tool_call_id=call_id
        )

    scope = _Scope(make, label)
    return scope(fn) if fn is not None else scope
