"""The agent-run engine: agent hops and paths in baggage, step counting and the loop guard.

An agent span opens an *agent run* in its context; the model and tool calls made beneath it count as
its steps. When the run ends its span gets the token totals of the model calls made in it (sub-agents'
included) and an ``invoke_agent`` record the number of model and tool calls the agent made itself (the
``gen_ai.invoke_agent.inference_calls`` / ``.tool_calls`` metrics). A ``handle_conversation_turn`` opened
inside another turn of this process (a runner invoked from a tool) gets no span: a turn is never nested.

The agent path (``supervisor>researcher``) and the hop count travel to other services as baggage (see
:mod:`genai_otel.propagation`), so the hop limit holds along a whole distributed trace.
The public decorators (:mod:`genai_otel.agents`) and the framework integrations (LangChain, LlamaIndex,
Haystack, ...) open agent and tool records through :func:`open_in_context`; client-level instrumentors
count their calls with :func:`count_step`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from genai_otel import semconv
from genai_otel.config import LoopGuardAction
from genai_otel.propagation import policy
from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import AgentInvocation, Invocation, ToolInvocation

__all__ = [
    "LOOP_GUARD_EVENT",
    "AgentLoopError",
    "count_step",
    "current_agent_path",
    "finish_run",
    "open_in_context",
]

LOOP_GUARD_EVENT = "genai_otel.loop_guard.triggered"
_PATH_SEPARATOR = ">"
_PATH_KEEP = 16
# A Context is a dict (the API's ``Context`` subclasses it): the per-call reads of these keys use ``ctx.get``,
# one Python call fewer each than ``otel_context.get_value``.
_RUN = otel_context.create_key("genai_otel.agent_run")
# Set in a conversation turn's context: a turn opened beneath it is the same turn (no second span).
_TURN = otel_context.create_key("genai_otel.conversation_turn")
#: Usage fields summed from a run's model calls onto its span.
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")


class AgentLoopError(RuntimeError):
    """Raised into agent code when a loop-guard limit is hit and the action is ``raise``."""

    def __init__(self, limit: str, value: int, maximum: int, path: str | None) -> None:
        self.limit, self.value, self.maximum, self.path = limit, value, maximum, path
        what = "agent hops along this trace" if limit == "hops" else "model/tool calls in this agent run"
        super().__init__(
            f"genai-otel loop guard: {value} {what} exceeds the limit of {maximum} (path: {path})"
        )


class _AgentRun:
    """One agent run: its step counts and the usage of the model calls made in it. Made on every agent
    call: a plain slotted class (a dataclass's default factories cost more)."""

    __slots__ = (
        "inference_calls",
        "inferences",
        "invocation",
        "nested_usage",
        "parent",
        "steps",
        "tool_calls",
    )

    def __init__(self, invocation: AgentInvocation, parent: _AgentRun | None) -> None:
        self.invocation = invocation
        self.parent = parent
        self.steps = self.inference_calls = self.tool_calls = 0
        #: The model-call records counted in this run: their usage is known only when they end.
        self.inferences: list[Invocation] = []
        #: Usage totals of the sub-agent runs that ended inside this one.
        self.nested_usage: dict[str, int] = {}

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


def count_step(
    handler: TelemetryHandler, inv: Invocation, context: otel_context.Context | None = None
) -> AgentLoopError | None:
    """Count a model or tool call against the agent run of ``context`` (default: the current one)'s step
    limit.

    Returns the :class:`AgentLoopError` the caller must raise (action ``raise``), else ``None``.
    """
    if inv.owner is not None:
        # A call merged into a framework's record is already counted -- as that record; a limit it hit
        # is raised here when the framework itself could not (a tracing-processor integration).
        error, inv.owner.loop_error = inv.owner.loop_error, None
        return error  # type: ignore[return-value]
    run: _AgentRun | None = otel_context.get_value(_RUN, context)  # type: ignore[assignment]
    if run is None:
        return None
    return _count(handler, inv, run)


def _count(handler: TelemetryHandler, inv: Invocation, run: _AgentRun) -> AgentLoopError | None:
    if inv.is_inference:
        run.inference_calls += 1
        run.inferences.append(inv)
    elif inv.operation == semconv.OPERATION_EXECUTE_TOOL:
        run.tool_calls += 1
    else:
        return None  # steps are model and tool calls; embeddings and store queries are not
    run.steps += 1
    maximum = handler.settings.max_agent_steps
    if not maximum or run.steps <= maximum:
        return None
    spans = [s for s in [inv.span, *(r.invocation.span for r in run.chain())] if s is not None]
    return _trip(handler, "steps", run.steps, maximum, spans, current_agent_path())


@functools.lru_cache(maxsize=1024)  # the same few agents, path after path: computed once each
def _next_hop(raw_hops: str | None, path: str | None, name: str, max_length: int) -> tuple[int, str, str]:
    """The hop count (and its baggage text) and the path of agent ``name`` entered where the baggage holds
    ``raw_hops`` and ``path`` (a hop count int() cannot read counts as none)."""
    hops = (int(raw_hops) if raw_hops is not None and raw_hops.isdecimal() else 0) + 1
    return hops, str(hops), _extend_path(path, name, max_length)


def _extend_path(path: str | None, name: str, max_length: int) -> str:
    clean = "".join(ch for ch in name if ch.isprintable() and ch != _PATH_SEPARATOR) or "agent"
    names = [*(path.split(_PATH_SEPARATOR) if path else []), clean][-_PATH_KEEP:]
    joined = _PATH_SEPARATOR.join(names)
    while len(joined) > max_length and len(names) > 1:
        names = names[1:]
        joined = _PATH_SEPARATOR.join(names)
    return joined[-max_length:]


def _baggage_key() -> str | None:
    """The context key OpenTelemetry keeps the baggage dict under, found through its public API; ``None``
    if baggage is kept some other way (then :func:`_derive` writes entries one ``set_baggage`` at a time)."""
    probe = baggage.set_baggage("probe", "set", Context())
    key = next(iter(probe), None)
    if key is None or not isinstance(probe.get(key), dict):
        return None
    return key if baggage.get_baggage("probe", Context({key: {"probe": "read"}})) == "read" else None


_BAGGAGE_KEY = _baggage_key()


def _baggage_of(ctx: Context) -> Mapping[str, object]:
    """The baggage entries of ``ctx``, to read."""
    if _BAGGAGE_KEY is None:
        return baggage.get_all(ctx)
    entries = ctx.get(_BAGGAGE_KEY)
    return entries if isinstance(entries, dict) else {}


def _derive(
    ctx: Context, current: Mapping[str, object], entries: dict[str, str], values: dict[str, object]
) -> Context:
    """``ctx`` (whose baggage is ``current``) with the baggage ``entries`` added and the context ``values``
    set, in one copy of the context: ``set_baggage`` and ``set_value`` copy it once per entry."""
    key = _BAGGAGE_KEY
    if entries and key is None:
        for name, value in entries.items():
            ctx = baggage.set_baggage(name, value, ctx)
    derived = {**ctx, **values}
    if entries and key is not None:
        derived[key] = {**current, **entries}
    return Context(derived)


def open_in_context(
    handler: TelemetryHandler, inv: Invocation, ctx: Context
) -> tuple[Context, AgentLoopError | None]:
    """Open ``inv``'s span under ``ctx`` (not made current) with the agent bookkeeping: agents get
    their hop/path baggage and a run that counts the model and tool calls below them against the
    loop guard. Returns the context for work inside the span and the guard's error (action
    ``raise``) for the caller to raise. Used by the decorators and the framework integrations."""
    parent_run: _AgentRun | None = ctx.get(_RUN)  # type: ignore[assignment]
    if isinstance(inv, AgentInvocation):
        return _open_agent(handler, inv, ctx, parent_run)
    if isinstance(inv, ToolInvocation) and inv.agent_name is None and parent_run is not None:
        inv.agent_name = parent_run.invocation.agent_name
    handler.start(inv, activate=False, context=ctx)
    if inv.owner is not None:  # merged into the framework record that owns this call
        return ctx, None
    ctx = handler.context_for(inv, ctx)
    error = None
    if parent_run is not None:
        error = inv.loop_error = _count(handler, inv, parent_run)
    return ctx, error


def _open_agent(
    handler: TelemetryHandler, inv: AgentInvocation, ctx: Context, parent_run: _AgentRun | None
) -> tuple[Context, AgentLoopError | None]:
    """:func:`open_in_context` for an agent: its baggage and run go into the context its span starts in,
    in one copy (so samplers and span processors see the agent's own path and hops)."""
    turn = inv.operation == semconv.OPERATION_HANDLE_CONVERSATION_TURN
    if turn:
        if ctx.get(_TURN):
            return ctx, None  # the same turn, entered again from inside it: no span, no run
    elif inv.operation == semconv.OPERATION_INVOKE_WORKFLOW and inv.workflow_name is None:
        inv.workflow_name, inv.agent_name = inv.agent_name, None  # a workflow is named as one
    inv.is_nested = parent_run is not None
    # Known now for a run that makes no model or tool call: an attribute given at the start costs a
    # fraction of one set on the open span (the run's count replaces it at the end).
    inv.attributes[semconv.GENAI_OTEL_AGENT_STEPS] = 0
    current = _baggage_of(ctx)
    entries = _agent_baggage(handler, inv, current)
    run = _AgentRun(inv, parent_run)
    inner = _derive(ctx, current, entries, {_RUN: run, _TURN: True} if turn else {_RUN: run})
    handler.start(inv, activate=False, context=inner)
    if inv.owner is not None:  # merged into the framework record that owns this call: no run of its own
        return _derive(ctx, current, entries, {_TURN: True} if turn else {}), None
    inner = handler.context_for(inv, inner)
    maximum = handler.settings.max_agent_hops
    if not maximum or inv.kind is SpanKind.CLIENT:
        return inner, None
    hops = inv.attributes.get(semconv.GENAI_OTEL_AGENT_HOPS, 0)
    if hops <= maximum:
        return inner, None
    spans = [r.invocation.span for r in run.chain() if r.invocation.span is not None]
    error = _trip(handler, "hops", hops, maximum, spans, current_agent_path(inner))
    return baggage.set_baggage(policy.LOOP_GUARD_LIMIT, "hops", inner), error


def finish_run(inv: Invocation, ctx: Context) -> None:
    """An agent run ends (call before ending its record): its steps, the token totals of the model calls
    made in it (sub-agents' included; values the framework reported itself are kept), and for
    ``invoke_agent`` the model and tool calls the agent made itself. The totals count in the enclosing run."""
    run: _AgentRun | None = ctx.get(_RUN)  # type: ignore[assignment]
    if run is None or run.invocation is not inv:
        return
    agent = run.invocation
    if run.steps:  # the span started with 0 steps
        agent.response_attributes[semconv.GENAI_OTEL_AGENT_STEPS] = run.steps
    if agent.operation == semconv.OPERATION_INVOKE_AGENT:
        agent.inference_calls, agent.tool_calls = run.inference_calls, run.tool_calls
    if run.inferences or run.nested_usage:
        _sum_usage(run, agent)
    if run.parent is not None:
        for name in _USAGE_FIELDS:
            value = getattr(agent, name)
            if isinstance(value, int) and value > 0:
                run.parent.nested_usage[name] = run.parent.nested_usage.get(name, 0) + value


def _sum_usage(run: _AgentRun, agent: AgentInvocation) -> None:
    """Token totals of the model calls made in ``run`` onto its agent, where the framework reported none."""
    totals = dict(run.nested_usage)
    for call in run.inferences:
        record = call.owner or call
        for name in _USAGE_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, int) and value > 0:
                totals[name] = totals.get(name, 0) + value
    for name, total in totals.items():
        if getattr(agent, name) is None:
            setattr(agent, name, total)
    run.inferences.clear()


def _agent_baggage(
    handler: TelemetryHandler, inv: AgentInvocation, current: Mapping[str, object]
) -> dict[str, str]:
    """The baggage the agent adds for its subtree to the ``current`` entries (and its span's hop/path
    attributes): one more hop, the extended path, the conversation. A conversation turn is not an agent:
    it adds no hop and no path entry (the agents it runs do)."""
    entries: dict[str, str] = {}
    if inv.operation != semconv.OPERATION_HANDLE_CONVERSATION_TURN:
        raw_hops, path = current.get(policy.AGENT_HOPS), current.get(policy.AGENT_PATH)
        hops, hops_text, path = _next_hop(
            raw_hops if isinstance(raw_hops, str) else None,
            str(path) if path is not None else None,
            inv.agent_name or inv.workflow_name or inv.operation,
            handler.settings.baggage_max_value_length,
        )
        inv.attributes[semconv.GENAI_OTEL_AGENT_HOPS] = hops
        inv.attributes[semconv.GENAI_OTEL_AGENT_PATH] = path
        if inv.kind is SpanKind.CLIENT:
            # A call to a remote agent: the agent itself counts the hop when it starts over there.
            return entries
        entries[policy.AGENT_HOPS] = hops_text
        entries[policy.AGENT_PATH] = path
    if inv.conversation_id is not None:
        entries[policy.CONVERSATION_ID] = inv.conversation_id
    return entries
