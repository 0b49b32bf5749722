"""AG2 1.x (``ag2``, the ``Agent`` / middleware API): a middleware of ours joins every agent turn --
``ask``, ``run``, a reply's follow-up ``ask``, ``resume`` all go through the turn scope it is added to:

* each turn -> ``invoke_agent {agent}`` (provider and model of the turn's model config; the stream id,
  which holds the conversation's history, as conversation id; a turn a network envelope started is
  parented by the envelope's span, as AG2 relays it);
* each model call -> ``chat {model}``, owning the client SDK call made inside (openai, anthropic,
  google-genai, ... when instrumented too): one span per model call;
* each tool execution -> ``execute_tool {tool}`` (a tool that failed comes back to the model as an error
  event; its span is marked failed all the same).

AG2's own ``TelemetryMiddleware``, when an application adds it, covers the same turns, model calls and
tool executions: those hooks of it pass straight through while we are instrumented (one set of spans);
its human-input spans, which we do not cover, are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.instrumentation._framework import RunTracker
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import TelemetryHandler

_TELEMETRY = "ag2.middleware.builtin.telemetry"
_COVERED_HOOKS = ("on_turn", "on_llm_call", "on_tool_execution")


class AG2Instrumentor(GenAIInstrumentor):
    """Instruments ``ag2`` 1.x agents by adding a middleware to every turn."""

    dependencies = ("ag2 >= 1.2",)

    def patches(self) -> Iterable[Patch]:
        yield Patch("ag2.agent", "Agent._drive_scope", self._middleware_adder)
        for hook in _COVERED_HOOKS:
            yield Patch(_TELEMETRY, f"_TelemetryMiddlewareInstance.{hook}", lambda h: _pass_through)

    def _middleware_adder(self, handler: TelemetryHandler) -> Wrapper:
        """Wraps the turn scope so that our middleware joins the turn's middleware."""
        runs = self.runs = RunTracker(handler)

        def add_middleware(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            try:
                from genai_otel.instrumentation.ag2._middleware import GenAIMiddlewareFactory

                ours = GenAIMiddlewareFactory(handler, runs, instance)
                # Last: the innermost middleware, next to the model client and the tool.
                kwargs = {**kwargs, "additional_middleware": (*kwargs.get("additional_middleware", ()), ours)}
            except Exception:
                report_internal_error("ag2.middleware")
            return wrapped(*args, **kwargs)

        return add_middleware

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        runs = getattr(self, "runs", None)
        if runs is not None:
            runs.end_all()


def _pass_through(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """AG2's telemetry hook ``(call_next, event, context)``: ours records this work, so call on."""
    call_next, *rest = args
    return call_next(*rest, **kwargs)
