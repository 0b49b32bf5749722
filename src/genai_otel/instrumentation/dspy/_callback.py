"""The callback DSPy calls around every module, LM, tool and evaluation call: calls become spans.

DSPy calls ``on_*_start`` in the caller's frame just before the call (its parent's call id still the
active one) and ``on_*_end`` in the same frame after it, also when the call raised: a span is made current
at start and stops being current at end, in the same thread or task. Errors in callbacks are logged by
DSPy, never raised into the program; ours are caught here before that.
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy.utils.callback import ACTIVE_CALL_ID, BaseCallback

from genai_otel.instrumentation._framework import RunReceiver, guarded
from genai_otel.instrumentation._util import jsonable
from genai_otel.instrumentation.dspy import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, ToolInvocation

# Closed: uninstrumented, though a callback list copied before may still hold us.
_guarded = guarded("dspy")


class GenAICallback(RunReceiver, BaseCallback):
    """Turns DSPy calls into GenAI spans. Installed by :class:`DSPyInstrumentor`."""

    def _start(self, call_id: str, inv: Any = None, name: str | None = None) -> None:
        # Start callbacks run before DSPy makes this call the active one: the active id is the parent's.
        self._runs.start(call_id, ACTIVE_CALL_ID.get(), inv, name=name)

    def raise_loop_error(self) -> None:
        """Raise the loop guard's error for the call now active, if its start tripped the guard."""
        call_id = ACTIVE_CALL_ID.get()
        run = self._runs.own(call_id) if call_id is not None and not self.closed else None
        if run is not None and run.loop_error is not None:
            error, run.loop_error = run.loop_error, None
            raise error

    def _end(self, call_id: str, exception: BaseException | None) -> None:
        self._runs.end(call_id, exception)

    def _record(self, call_id: str | None) -> Any:
        run = self._runs.get(call_id) if call_id is not None else None
        return run.inv if run is not None else None

    # -- modules --------------------------------------------------------------------------------

    @_guarded
    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if isinstance(instance, dspy.Predict):
            self._runs.alias(call_id, ACTIVE_CALL_ID.get())
        elif isinstance(instance, dspy.ReAct):
            provider, model = m.agent_model(instance)
            inv = AgentInvocation(agent_name=type(instance).__name__, provider=provider, request_model=model)
            if self._capture:
                inv.input_messages = m.input_messages(inputs)
                inv.tool_definitions = m.tool_definitions_of(getattr(instance, "tools", {}).values())
            self._start(call_id, inv)
        else:
            self._start(call_id, name=type(instance).__name__)

    @_guarded
    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        inv = self._record(call_id)
        if isinstance(inv, AgentInvocation) and self._capture and exception is None:
            inv.output_messages = m.output_messages(outputs)
        self._end(call_id, exception)

    # -- model calls ----------------------------------------------------------------------------

    @_guarded
    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        # Under dspy.streamify the LM streams its reply to the program's stream (settings.send_stream).
        inv = m.lm_request(instance, inputs, streamed=dspy.settings.get("send_stream") is not None)
        if self._capture:
            m.lm_input(inv, inputs)
        self._start(call_id, inv)

    @_guarded
    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        inv = self._record(call_id)
        if isinstance(inv, InferenceInvocation) and exception is None and self._capture:
            inv.output_messages = m.lm_output(outputs)
        self._end(call_id, exception)

    def lm_result(self, result: Any) -> None:
        """What DSPy's native engine knows of the LM call now active (usage, response model)."""
        if self.closed:
            return
        try:
            inv = self._record(ACTIVE_CALL_ID.get())
            if isinstance(inv, InferenceInvocation) and not isinstance(inv, AgentInvocation):
                m.lm_result(inv, result)
        except Exception:
            report_internal_error("dspy.lm_result")

    # -- tools ----------------------------------------------------------------------------------

    @_guarded
    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        inv = ToolInvocation(
            tool_name=getattr(instance, "name", None),
            tool_description=getattr(instance, "desc", None) or None,
            tool_type="function",
        )
        if self._capture:
            inv.arguments = inputs.get("kwargs", inputs)
        self._start(call_id, inv)

    @_guarded
    def on_tool_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        inv = self._record(call_id)
        if isinstance(inv, ToolInvocation) and self._capture and exception is None:
            inv.result = jsonable(outputs)
        self._end(call_id, exception)

    # -- evaluation -----------------------------------------------------------------------------

    @_guarded
    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self._start(call_id, name="evaluate")

    @_guarded
    def on_evaluate_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        self._end(call_id, exception)
