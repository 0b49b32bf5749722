"""One model call, one span: framework records own the client calls made beneath them.

A framework record (LangChain, LlamaIndex, litellm, ...) with ``owns_client_calls`` is put in the
context of the work it covers; a client-level record started there is *claimed* by it -- it opens no
span of its own and, when it ends, merges what the client knows exactly (tokens, response id and
model, server) into the owner. Framework scopes let a run that ended in another asyncio task be
stepped over in the task that started it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from genai_otel.telemetry.invocation import Invocation

_OWNER = otel_context.create_key("genai_otel.owning_invocation")
# A framework record whose model call runs later, outside the framework's own scope (a stream the
# caller iterates after the framework method returned): set, not attached, so it outlives that scope;
# only an open, unclaimed record is ever taken from it.
_PENDING_OWNER: ContextVar[Invocation | None] = ContextVar("genai_otel_pending_owner", default=None)
# What a client-level record knows better than the framework record that owns the call.
_MERGED_FIELDS = (
    "server_address",
    "server_port",
    "response_model",
    "response_id",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "reasoning_output_tokens",
    "finish_reasons",
    "dimension_count",
)
# What the client sent that a framework may not report (set only under content capture), copied where the
# owner has none. Not messages: a framework that leaves them out may do so on purpose (the OpenAI Agents
# SDK's trace_include_sensitive_data=False), and its record is the one the user configured.
_FILLED_CONTENT = ("tool_definitions",)


_SCOPE = otel_context.create_key("genai_otel.framework_scope")


class FrameworkScope:
    """Marks a context a framework run made current. Frameworks may end a run in another asyncio task
    than the one that started it; the starting task then still has the ended run's context attached,
    and :func:`live_context` steps over it to what was current before."""

    __slots__ = ("open", "parent", "span")

    def __init__(self, parent: otel_context.Context) -> None:
        self.parent = parent
        self.open = True
        self.span: Any = None

    def enter(self, ctx: otel_context.Context) -> otel_context.Context:
        self.span = trace.get_current_span(ctx)
        return otel_context.set_value(_SCOPE, self, ctx)


def live_context(ctx: otel_context.Context | None = None) -> otel_context.Context:
    """``ctx`` (default: the current context) without framework scopes that have ended. A scope is
    stepped over only while its run's span is still the current one: a span the application opened on
    top of it is the application's, and stays the parent of what comes next."""
    ctx = ctx if ctx is not None else otel_context.get_current()
    scope = ctx.get(_SCOPE)
    while scope is not None and not scope.open and trace.get_current_span(ctx) is scope.span:
        ctx = scope.parent
        scope = otel_context.get_value(_SCOPE, ctx)
    return ctx


def _same_kind(owner: Invocation, inv: Invocation) -> bool:
    return (
        owner.is_inference == inv.is_inference
        and owner.operation != "retrieval"
        and (owner.is_inference or owner.operation == inv.operation)
    )


def claim(inv: Invocation, context: otel_context.Context) -> bool:
    """Whether a framework record owning client calls in ``context`` takes ``inv`` over: then ``inv``
    opens no span and merges into ``inv.owner`` when it ends."""
    owner = context.get(_OWNER) or _PENDING_OWNER.get()
    if owner is not None and not owner.claimed and not owner.ended and _same_kind(owner, inv):
        owner.claimed = True
        inv.owner = owner
        return True
    return False


def owning(inv: Invocation, ctx: otel_context.Context | None) -> otel_context.Context | None:
    """``ctx`` in which client calls merge into ``inv``."""
    return otel_context.set_value(_OWNER, inv, ctx)


def expect_client_call(inv: Invocation) -> None:
    """``inv`` owns the next client call made in this context even after its scope was left
    (streams consumed later); a claimed or ended record is ignored."""
    if inv.owns_client_calls and not inv.claimed:
        _PENDING_OWNER.set(inv)


def merge(inv: Invocation, owner: Invocation) -> None:
    """Put what the client-level record ``inv`` learned into the framework record that owns it."""
    # Frameworks that do not know the model (or provider) before the call learn it from the client.
    if owner.request_model is None:
        owner.request_model = inv.request_model
    if owner.provider is None or ("provider" in owner.guessed and inv.provider is not None):
        owner.provider = inv.provider
    if "operation" in owner.guessed and inv.is_inference:
        owner.operation = inv.operation  # e.g. a custom LLM's complete() that makes a chat call
    if getattr(inv, "stream", None) and not getattr(owner, "first_chunk_ns", 0):
        # The framework did not see the stream (it consumed it inside one call): the client's timing.
        owner.stream = True
        owner.first_chunk_ns, owner.last_chunk_ns = inv.first_chunk_ns, inv.last_chunk_ns
        owner.chunk_count = inv.chunk_count
    for name in _MERGED_FIELDS:
        value = getattr(inv, name, None)
        if value is not None and hasattr(owner, name):
            setattr(owner, name, value)
    for name in _FILLED_CONTENT:
        value = getattr(inv, name, None)
        if value and hasattr(owner, name) and not getattr(owner, name):
            setattr(owner, name, value)
    owner.response_attributes.update(inv.response_attributes)
