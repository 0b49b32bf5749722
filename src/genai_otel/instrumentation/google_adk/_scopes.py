"""Our records around ADK's own telemetry scopes.

ADK opens a telemetry scope (``google.adk.telemetry._instrumentation.record_*``) around each runner
turn, agent run, model call and tool call, at exactly the boundaries we trace, and hands the scope's
context on by value (``stream_in_scope`` attaches it only while ADK's generators run, never across a
``yield`` to the consumer). Each wrapper here opens our record in the current context and makes it
current only while ADK's scope *enters*: ADK reads the current context then as its parent, so
everything ADK later runs under that scope -- sub-agents, model calls, tools, the google-genai client
call -- descends from our span. ADK's own spans are placeholders meanwhile (see ``_adk_telemetry``).

Model and tool scopes run in one execution context for their whole length (ADK runs a model call's
response stream in a context copy of its own; a tool call is awaited), so ours stays current there
too and the client SDK call merges into the model-call record. A model call's record ends at its final
response, as ADK's span does: what the caller does with that response (running a tool) is not part of
the call.

ADK's graph workflows (``google.adk.workflow.Workflow``) pass their node contexts by value: a nested
workflow's scope is opened under the context its node was given, and is handed ours in its place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context

from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation._util import get
from genai_otel.instrumentation.google_adk import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import InferenceInvocation, Invocation, TelemetryHandler, ToolInvocation

Exit = Callable[[Any, Invocation], None]

#: True while a runner turn's ADK scope enters: the workflow scope ADK opens for the turn itself is ours.
_ENTERING_TURN: ContextVar[bool] = ContextVar("genai_otel_adk_entering_turn", default=False)


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _failure(error: BaseException | None) -> BaseException | None:
    # A consumer that stops reading an ADK stream closes it with GeneratorExit: not a failure.
    return None if isinstance(error, GeneratorExit) else error


@contextlib.contextmanager
def _attached(context: otel_context.Context) -> Iterator[None]:
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def _recorded_failure(get_recorded_error: Callable[[], BaseException | None]) -> Exit:
    """Exit hook: a workflow stores a failed node's exception instead of raising it; it fails the run."""

    def mark(value: Any, inv: Invocation) -> None:
        error = get_recorded_error()
        if error is not None and inv.error_type is None:
            inv.error_type = type(error).__name__

    return mark


class _Entered:
    """What an ADK scope yielded, for the exit hook."""

    value: Any = None


class _EnteredUnder:
    """An ADK scope entered while ``current`` (a one-use context manager) holds: ADK takes the context
    current then as the parent of its scope. Leaving delegates to the scope."""

    def __init__(self, scope: Any, current: AbstractContextManager[None]) -> None:
        self.scope, self.current = scope, current

    def __enter__(self) -> Any:
        with self.current:
            return self.scope.__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return self.scope.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        with self.current:
            return await self.scope.__aenter__()

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.scope.__aexit__(*exc_info)


class ADKScopes:
    """The wrappers of ADK's telemetry scopes (wrapt signature), and the records they keep open."""

    def __init__(self, handler: TelemetryHandler) -> None:
        self.handler = handler
        self.runs = RunTracker(handler)
        #: Open model-call runs by ADK's ``InferenceScope`` (an unhashable dataclass: keyed by id).
        self._model_calls: dict[int, object] = {}

    def close(self) -> None:
        self._model_calls.clear()
        self.runs.end_all()

    # -- the wrapped scopes ------------------------------------------------------------------------

    def turn(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``record_invocation(entrypoint_node, conversation_id, run_config)``: a runner turn."""
        scope = wrapped(*args, **kwargs)
        inv = self._build(
            "turn",
            m.turn,
            _arg(args, kwargs, 0, "entrypoint_node"),
            _arg(args, kwargs, 1, "conversation_id"),
        )
        return scope if inv is None else self._around_turn(scope, inv)

    def workflow(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``node_tracing._use_invoke_workflow_span(workflow_name, conversation_id, *, otel_context)``: a
        graph workflow nested in another (the runner's own is the turn)."""
        if _ENTERING_TURN.get():
            return wrapped(*args, **kwargs)
        name, conversation_id = (
            _arg(args, kwargs, 0, "workflow_name"),
            _arg(args, kwargs, 1, "conversation_id"),
        )
        inv = self._build("workflow", m.workflow, name, conversation_id)
        if inv is None:
            return wrapped(*args, **kwargs)
        parent = kwargs.get("otel_context") or otel_context.get_current()
        return self._around_workflow(wrapped, args, kwargs, inv, parent)

    def agent(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``record_agent_invocation(ctx, agent)``: an agent's (or workflow agent's) run."""
        scope = wrapped(*args, **kwargs)
        capture = self.handler.capture_content
        inv = self._build(
            "agent", m.agent_run, _arg(args, kwargs, 0, "ctx"), _arg(args, kwargs, 1, "agent"), capture
        )
        return scope if inv is None else self._around_async(scope, inv)

    def tool(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``record_tool_execution(tool, agent, function_args, invocation_context)``."""
        scope = wrapped(*args, **kwargs)
        capture = self.handler.capture_content
        tool, function_args = _arg(args, kwargs, 0, "tool"), _arg(args, kwargs, 2, "function_args")
        inv = self._build("tool", m.tool_call, tool, function_args, capture)
        if inv is None:
            return scope
        return self._around_async(scope, inv, stay_current=True, on_exit=self._tool_done)

    def model_call(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``record_inference_telemetry(llm_request, invocation_context, model_response_event)``."""
        scope = wrapped(*args, **kwargs)
        capture = self.handler.capture_content
        inv = self._build(
            "model_call",
            m.model_call,
            _arg(args, kwargs, 0, "llm_request"),
            _arg(args, kwargs, 1, "invocation_context"),
            capture,
        )
        if inv is None:
            return scope
        return self._around_async(
            scope, inv, stay_current=True, on_enter=self._model_call_entered, on_exit=self._model_call_done
        )

    def model_response(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``InferenceScope.record_llm_response(invocation_context, response)``."""
        result = wrapped(*args, **kwargs)
        try:
            run_id = self._model_calls.get(id(instance))
            run = self.runs.own(run_id) if run_id is not None else None
            if run is not None and isinstance(run.inv, InferenceInvocation) and not run.inv.ended:
                response = _arg(args, kwargs, 1, "response")
                m.model_response(run.inv, response, time.perf_counter_ns(), self.handler.capture_content)
                if m.is_final(response):
                    self.runs.end(run_id)
        except Exception:
            report_internal_error("google_adk.model_response")
        return result

    # -- scope plumbing ----------------------------------------------------------------------------

    def _build(self, what: str, build: Callable[..., Invocation], *args: Any) -> Invocation | None:
        try:
            return build(*args)
        except Exception:
            report_internal_error(f"google_adk.{what}")
            return None

    def _start(self, inv: Invocation) -> object | None:
        """Open the record under the current context (not made current); its run id, ``None`` if our
        code failed. The loop guard's error (action ``raise``) is raised into ADK, as the failure of the
        scope it would have opened."""
        run_id = object()
        try:
            run = self.runs.start(run_id, None, inv, attach=False)
        except Exception:
            report_internal_error("google_adk.start")
            return None
        if run.loop_error is not None:
            self.runs.end(run_id, run.loop_error)
            raise run.loop_error
        return run_id

    def _end(self, run_id: object | None, error: BaseException | None) -> None:
        if run_id is None:
            return
        try:
            self.runs.end(run_id, _failure(error))
        except Exception:
            report_internal_error("google_adk.end")

    def _current(self, run_id: object | None) -> AbstractContextManager[None]:
        """Our record's context made current for a block (nothing if our code failed to open it)."""
        run = self.runs.own(run_id) if run_id is not None else None
        return contextlib.nullcontext() if run is None else _attached(run.context)

    @contextlib.contextmanager
    def _ending(self, run_id: object | None, on_exit: Exit | None = None) -> Iterator[_Entered]:
        """Ends the run with whatever leaves the block (``on_exit`` first reads the scope's value)."""
        entered = _Entered()
        error: BaseException | None = None
        try:
            yield entered
        except BaseException as raised:
            error = raised
            raise
        finally:
            run = self.runs.own(run_id) if run_id is not None else None
            if on_exit is not None and run is not None and run.inv is not None:
                try:
                    on_exit(entered.value, run.inv)
                except Exception:
                    report_internal_error("google_adk.exit")
            self._end(run_id, error)

    @contextlib.contextmanager
    def _entering_turn(self, run_id: object | None) -> Iterator[None]:
        token = _ENTERING_TURN.set(True)
        try:
            with self._current(run_id):
                yield
        finally:
            _ENTERING_TURN.reset(token)

    @contextlib.contextmanager
    def _around_turn(self, scope: AbstractContextManager[Any], inv: Invocation) -> Iterator[Any]:
        run_id = self._start(inv)
        with self._ending(run_id), _EnteredUnder(scope, self._entering_turn(run_id)) as value:
            yield value

    @contextlib.contextmanager
    def _around_workflow(
        self, wrapped: Any, args: tuple, kwargs: dict, inv: Invocation, parent: otel_context.Context
    ) -> Iterator[Any]:
        with _attached(parent):
            run_id = self._start(inv)
        run = self.runs.own(run_id) if run_id is not None else None
        if run is not None:
            kwargs = {**kwargs, "otel_context": run.context}
        failure = kwargs.get("get_recorded_error")
        on_exit = _recorded_failure(failure) if callable(failure) else None
        with self._ending(run_id, on_exit), wrapped(*args, **kwargs) as value:
            yield value

    @contextlib.asynccontextmanager
    async def _around_async(
        self,
        scope: AbstractAsyncContextManager[Any],
        inv: Invocation,
        *,
        stay_current: bool = False,
        on_enter: Callable[[Any, object], None] | None = None,
        on_exit: Exit | None = None,
    ) -> AsyncIterator[Any]:
        """An async ADK scope entered under our record; with ``stay_current`` ours stays current for the
        scope's whole length (only for scopes that run in one execution context, see the module doc)."""
        run_id = self._start(inv)
        current = self._current(run_id)
        throughout, entering = (
            (current, contextlib.nullcontext()) if stay_current else (contextlib.nullcontext(), current)
        )
        with self._ending(run_id, on_exit) as entered, throughout:
            async with _EnteredUnder(scope, entering) as value:
                entered.value = value
                if on_enter is not None and run_id is not None:
                    on_enter(value, run_id)
                yield value

    # -- per-scope details -------------------------------------------------------------------------

    def _model_call_entered(self, inference_scope: Any, run_id: object) -> None:
        self._model_calls[id(inference_scope)] = run_id

    def _model_call_done(self, inference_scope: Any, inv: Invocation) -> None:
        self._model_calls.pop(id(inference_scope), None)

    def _tool_done(self, tool_scope: Any, inv: Invocation) -> None:
        if not isinstance(inv, ToolInvocation):
            return
        call_id, result = m.tool_response(get(tool_scope, "function_response_event"))
        if call_id is not None:
            self.handler.update_request(inv, tool_call_id=call_id)
        if result is not None and self.handler.capture_content:
            inv.result = result
        # A tool that reported its failure in its response rather than raising (ADK detects it).
        error_type = get(tool_scope, "error_type")
        if isinstance(error_type, str) and inv.error_type is None:
            inv.error_type = error_type
