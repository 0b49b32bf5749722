"""The AG2 middleware genai-otel adds to every agent turn: turn, model call and tool execution records.

Imported only once AG2 is (it subclasses ``ag2.middleware.BaseMiddleware``). It is the innermost
middleware of the turn, so the model call it wraps is the client itself (with the tool schemas it is
sent) and each retry of an outer retry middleware is a model call of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ag2.middleware.base import BaseMiddleware
from opentelemetry import context as otel_context
from opentelemetry.propagate import extract

from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation.ag2 import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation
from genai_otel.telemetry.invocation import Invocation

# Where AG2 keeps the turn's model config and, for a turn a network envelope started, the envelope's
# traceparent (ag2.utils / ag2._telemetry_consts; literal so that no private module is imported).
_MODEL_CONFIG = "__ag2_model_config__"
_TRACEPARENT = "ag2.otel.traceparent"


class GenAIMiddlewareFactory:
    """Makes the middleware for one turn of ``agent`` (AG2 calls it with the turn's trigger event)."""

    def __init__(self, handler: TelemetryHandler, runs: RunTracker, agent: Any) -> None:
        self.handler = handler
        self.runs = runs
        self.agent = agent

    def __call__(self, event: Any, context: Any) -> GenAIMiddleware:
        return GenAIMiddleware(event, context, self)


class GenAIMiddleware(BaseMiddleware):
    """One turn's records: ``invoke_agent``, ``chat`` per model call, ``execute_tool`` per tool call."""

    def __init__(self, event: Any, context: Any, factory: GenAIMiddlewareFactory) -> None:
        super().__init__(event, context)
        self._factory = factory
        self._turn: AgentInvocation | None = None

    @property
    def _capture(self) -> bool:
        return self._factory.handler.capture_content

    def _config(self, context: Any) -> Any:
        dependencies = getattr(context, "dependencies", None) or {}
        return dependencies.get(_MODEL_CONFIG) or getattr(self._factory.agent, "config", None)

    async def on_turn(self, call_next: Callable[..., Awaitable[Any]], event: Any, context: Any) -> Any:
        def build() -> Invocation:
            stream_id = getattr(getattr(context, "stream", None), "id", None)
            inv = m.agent_record(self._factory.agent, self._config(context), stream_id, self._capture)
            if self._capture:
                inv.system_instructions = m.system_instructions(getattr(context, "prompt", None))
                inv.input_messages = m.trigger_messages(event)
            self._turn = inv
            return inv

        def finish(inv: Invocation, response: Any) -> None:
            if self._capture and isinstance(inv, AgentInvocation):
                inv.output_messages = [m.response_message(response)]

        return await self._run(build, finish, call_next, event, context, parent=_envelope_context(context))

    async def on_llm_call(self, call_next: Callable[..., Awaitable[Any]], events: Any, context: Any) -> Any:
        def build() -> Invocation:
            # Innermost: call_next is AG2's partial of the client, holding the tool schemas it sends.
            schemas = (getattr(call_next, "keywords", None) or {}).get("tools")
            prompt = getattr(context, "prompt", None)
            inv = m.chat_record(self._config(context), events, prompt, schemas, self._capture)
            if self._turn is not None and self._turn.tool_definitions is None:
                self._turn.tool_definitions = inv.tool_definitions
            return inv

        def finish(inv: Invocation, response: Any) -> None:
            if isinstance(inv, InferenceInvocation):
                m.on_model_response(inv, response, self._capture)

        return await self._run(build, finish, call_next, events, context)

    async def on_tool_execution(
        self, call_next: Callable[..., Awaitable[Any]], event: Any, context: Any
    ) -> Any:
        def build() -> Invocation:
            return m.tool_record(event, self._capture)

        def finish(inv: Invocation, result: Any) -> None:
            if self._capture and isinstance(inv, ToolInvocation):
                inv.result = m.tool_result_text(result)

        return await self._run(build, finish, call_next, event, context)

    async def _run(
        self,
        build: Callable[[], Invocation],
        finish: Callable[[Invocation, Any], None],
        call_next: Callable[..., Awaitable[Any]],
        *args: Any,
        parent: otel_context.Context | None = None,
    ) -> Any:
        """Run ``call_next`` inside a run of ours (made current); our failures leave it running bare."""
        runs, key = self._factory.runs, object()
        try:
            inv = build()
            token = otel_context.attach(parent) if parent is not None else None
            try:
                run = runs.start(key, None, inv, attach=False)
            finally:
                if token is not None:
                    otel_context.detach(token)
        except Exception:
            report_internal_error("ag2.start")
            return await call_next(*args)
        if run.loop_error is not None:
            runs.end(key, run.loop_error)
            raise run.loop_error
        run.token = otel_context.attach(run.context)
        try:
            result = await call_next(*args)
        except BaseException as error:
            _end(runs, key, error)
            raise
        try:
            if inv.owner is None:
                finish(inv, result)
        except Exception:
            report_internal_error("ag2.result")
        _end(runs, key, _failure(result))
        return result


def _failure(result: Any) -> BaseException | None:
    """A failed tool comes back as a ``ToolErrorEvent`` (the model is told): its span still fails."""
    error = getattr(result, "error", None)
    return error if isinstance(error, BaseException) else None


def _end(runs: RunTracker, key: object, error: BaseException | None) -> None:
    try:
        runs.end(key, error)
    except Exception:
        report_internal_error("ag2.end")


def _envelope_context(context: Any) -> otel_context.Context | None:
    """A turn an AG2 network envelope started: the envelope's span (relayed by AG2) is its parent."""
    traceparent = (getattr(context, "dependencies", None) or {}).get(_TRACEPARENT)
    if not isinstance(traceparent, str):
        return None
    return extract({"traceparent": traceparent}, context=otel_context.get_current())
