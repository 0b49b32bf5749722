"""Runs of orchestration frameworks (LangChain runs, LlamaIndex dispatcher spans, Haystack spans) as
spans, parented by the framework's own parent ids rather than by whatever context is current.

Frameworks report a run's start and end through callbacks that may happen in different threads
or asyncio tasks (parallel branches, ``asyncio.gather``); a run's span is therefore parented from
the framework's parent id, and its context is made current only as long as the framework stays in
the same execution context -- see :meth:`RunTracker.start`.

A run's context must never outlive the run in its caller: where a framework may end a run in another
task or thread, the integration calls :meth:`RunTracker.release` from the frame that ends it (and
drives the framework's generators with :mod:`genai_otel.telemetry.scoped`), so the attach made at
start is undone in the context it was made in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from genai_otel.safety import report_internal_error
from genai_otel.telemetry.agent_runs import AgentLoopError, finish_run, open_in_context
from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import Invocation, mark_failed
from genai_otel.telemetry.ownership import FrameworkScope, live_context


@dataclass(eq=False)
class Run:
    """One framework run: a GenAI record (``inv``) or a plain internal span (``span`` only)."""

    inv: Invocation | None
    span: Span | None
    context: otel_context.Context
    token: object | None = None
    #: Set when the run is an alias of its parent (hidden framework plumbing).
    alias_of: Run | None = None
    #: The loop guard tripped with action ``raise``: the integration raises it where the framework lets it.
    loop_error: AgentLoopError | None = None
    scope: FrameworkScope | None = None
    parent: Run | None = None
    #: Open child runs by id, so a failed or cancelled run closes what the framework left open.
    children: dict[Hashable, Run] = field(default_factory=dict)
    #: Ended while another run's context was current over it: detach it once that one is detached.
    released: bool = False
    tracker: Any = None


# The run whose context this is (set in every run's context), so a detach can see what it uncovers.
_RUN = otel_context.create_key("genai_otel.framework_run")


def _reset(run: Run) -> bool:
    token, run.token = run.token, None
    try:
        token.var.reset(token)  # type: ignore[attr-defined]
    except (ValueError, RuntimeError, AttributeError):
        # Made in another contextvars.Context (a copy the framework ran us in): not ours to undo here.
        return False
    return True


def _detach(run: Run) -> None:
    """Undo the attach made at start, but only when it is still the current context here.

    A framework may end a run from another task or thread than the one it started it in (e.g. LangChain's
    ``agenerate`` ends runs inside ``asyncio.gather`` children), and runs may end out of order; resetting
    then would corrupt an unrelated context, so we leave it: the context it was attached to is one the
    framework has finished with. Sibling runs started one after the other in one context (a ``batch``
    starts all its runs, then ends them in the same order) end out of order: a run that is not current
    when it ends keeps its token, and is reset when the run above it is detached and uncovers it.
    """
    if run.token is None:
        return
    if otel_context.get_current() is not run.context:
        run.released = True  # a later detach that uncovers this context resets it
        return
    if not _reset(run):
        return
    uncovered = otel_context.get_value(_RUN, otel_context.get_current())
    while isinstance(uncovered, Run) and uncovered.released and uncovered.token is not None:
        if otel_context.get_current() is not uncovered.context or not _reset(uncovered):
            return
        uncovered = otel_context.get_value(_RUN, otel_context.get_current())


class RunTracker:
    """Open runs by framework id. Thread-safe for distinct ids (dict operations are atomic)."""

    def __init__(self, handler: TelemetryHandler, *, explicit_parents: bool = False) -> None:
        """``explicit_parents``: the framework's parent ids are complete (LangChain's are), so a run
        reported without a parent is a root even when a sibling's context is current -- a ``batch``
        starts all its runs in one context before running any of them."""
        self.handler = handler
        self.explicit_parents = explicit_parents
        self._runs: dict[Hashable, Run] = {}

    def get(self, run_id: Hashable) -> Run | None:
        run = self._runs.get(run_id)
        while run is not None and run.alias_of is not None:
            run = run.alias_of
        return run

    def start(
        self,
        run_id: Hashable,
        parent_id: Hashable | None,
        inv: Invocation | None = None,
        *,
        name: str | None = None,
        attach: bool = True,
    ) -> Run:
        """Open a span for the run: ``inv``'s through the handler, else an internal span ``name``.

        With ``attach`` the run's context becomes current, so instrumented work inside it (an SDK
        call, a vector store query) nests under it and a client call merges into an owning record.
        """
        parent = self.get(parent_id) if parent_id is not None else None
        if parent is None:
            parent_ctx = self._ambient()
        else:
            # The parent run's context, or what the application layered on it in this flow (a span it
            # opened inside the run, baggage it set): the current context when it descends from the
            # parent's with no other run of ours in between.
            ambient = live_context()
            parent_ctx = ambient if otel_context.get_value(_RUN, ambient) is parent else parent.context
        loop_error = None
        if inv is not None:
            context, loop_error = open_in_context(self.handler, inv, parent_ctx)
            run = Run(inv, inv.span if inv.owner is None else None, context)
        else:
            span = self.handler.tracer.start_span(name or "run", context=parent_ctx, kind=SpanKind.INTERNAL)
            run = Run(None, span, trace.set_span_in_context(span, parent_ctx))
        run.scope = FrameworkScope(parent_ctx)
        run.tracker = self
        run.context = otel_context.set_value(_RUN, run, run.scope.enter(run.context))
        if attach:
            run.token = otel_context.attach(run.context)
        self._runs[run_id] = run
        run.loop_error = loop_error
        if parent is not None:
            run.parent = parent
            parent.children[run_id] = run
        return run

    def _ambient(self) -> otel_context.Context:
        """The parent context of a run without a (known) parent run: the current one, less ended runs'
        contexts and, with ``explicit_parents``, less runs of ours that are current as they were made
        (nothing of the application's on top of them)."""
        ctx = live_context()
        if not self.explicit_parents:
            return ctx
        run = otel_context.get_value(_RUN, ctx)
        while isinstance(run, Run) and run.tracker is self and ctx is run.context and run.scope is not None:
            ctx = live_context(run.scope.parent)
            run = otel_context.get_value(_RUN, ctx)
        return ctx

    def alias(self, run_id: Hashable, parent_id: Hashable | None) -> None:
        """A run we do not show (framework plumbing): its children belong to its parent."""
        parent = self.get(parent_id) if parent_id is not None else None
        if parent is not None:
            self._runs[run_id] = Run(None, None, parent.context, alias_of=parent)

    def own(self, run_id: Hashable) -> Run | None:
        """The run itself, ``None`` for an alias or an unknown id."""
        run = self._runs.get(run_id)
        return run if run is not None and run.alias_of is None else None

    def release(self, run_id: Hashable) -> None:
        """The run is about to end: stop it being current, here. Integrations call this from the frame
        that runs the run (where the framework calls its end), because the framework may then deliver the
        end callback in another task or thread, where the attach made at start cannot be undone."""
        run = self.own(run_id)
        if run is not None:
            _detach(run)

    def suspend(self, run_id: Hashable) -> Run | None:
        """The framework call returned but its work goes on (a stream the caller iterates later): stop
        the run being current here, keep its span open until :meth:`end`."""
        run = self.own(run_id)
        if run is not None:
            _detach(run)
            if run.scope is not None:
                run.scope.open = False
        return run

    def end(self, run_id: Hashable, error: BaseException | None = None) -> Run | None:
        """Close the run's span (exactly once); returns the run so callers may read its record."""
        run = self._runs.pop(run_id, None)
        if run is None or run.alias_of is not None:
            return None
        if run.parent is not None:
            run.parent.children.pop(run_id, None)
        if error is not None:
            # A cancelled task may never report its children's end (e.g. a model call cut off mid-request).
            for child_id in list(run.children):
                self.end(child_id, error)
        _detach(run)
        if run.scope is not None:
            run.scope.open = False
        if run.inv is not None:
            finish_run(run.inv, run.context)
            if error is None:
                self.handler.stop(run.inv)
            else:
                self.handler.fail(run.inv, error)
        elif run.span is not None:
            if error is not None:
                mark_failed(run.span, error)
                run.span.record_exception(error)
            run.span.end()
        return run

    def end_all(self) -> None:
        """On uninstrument: close what is still open so no span is lost."""
        for run_id in list(self._runs):
            self.end(run_id)

    def __len__(self) -> int:
        return len(self._runs)


class RunReceiver:
    """Base of the object a framework reports its runs to (a callback handler, event listener or tracing
    processor): the runs it has open, and closing on uninstrument -- the framework may still hold and call
    it then, so a closed receiver ignores the calls (see :func:`guarded`) and its open runs are ended."""

    def __init__(self, handler: TelemetryHandler, *, explicit_parents: bool = False) -> None:
        self._handler = handler
        self._runs = RunTracker(handler, explicit_parents=explicit_parents)
        self.closed = False

    @property
    def open_runs(self) -> int:
        return len(self._runs)

    @property
    def _capture(self) -> bool:
        return self._handler.capture_content

    def close(self) -> None:
        self.closed = True
        self._runs.end_all()


_Callback = TypeVar("_Callback", bound=Callable[..., Any])


def guarded(framework: str) -> Callable[[_Callback], _Callback]:
    """For a :class:`RunReceiver`'s callbacks: nothing once it is closed, and our errors reported as
    ``{framework}.{callback}``, never raised into the framework's run."""

    def decorate(method: _Callback) -> _Callback:
        def wrapper(self: RunReceiver, *args: Any, **kwargs: Any) -> Any:
            if self.closed:
                return None
            try:
                return method(self, *args, **kwargs)
            except Exception:
                report_internal_error(f"{framework}.{method.__name__}")
                return None

        wrapper.__name__ = method.__name__
        wrapper.__doc__ = method.__doc__
        return wrapper  # type: ignore[return-value]

    return decorate


def fill(record: Any, **values: Any) -> None:
    """Set fields the record does not know yet: a client call merged before the framework reports its
    own (less exact) view, and the client's values win."""
    for name, value in values.items():
        if value is not None and getattr(record, name, None) is None:
            setattr(record, name, value)
