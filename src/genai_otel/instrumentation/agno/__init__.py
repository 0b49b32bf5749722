"""Agno (``agno``): its run, model-call and tool-call methods as records (see :mod:`._runs`):

* ``Agent.run`` / ``arun`` (streamed too) -> ``invoke_agent {name}`` with ``gen_ai.agent.id`` /
  ``description``, the model's provider and id, the session id as ``gen_ai.conversation.id``;
  ``Team.run`` / ``arun`` likewise for the team, its members' runs nested beneath (through the
  delegation tool's span);
* each model call (``Model`` response processing, streamed or not) -> ``chat {model}``, owning the
  client SDK call made inside (openai, anthropic, ... when instrumented too), so one model call is one span;
* each tool call (``FunctionCall.execute`` / ``aexecute``) -> ``execute_tool {tool}``.

Agno keeps failures in its results: a run that ended with ``status=ERROR`` and a tool call that returned
``status="failure"`` are marked as failed too.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.instrumentation.agno import _mapping as m
from genai_otel.instrumentation.agno._runs import STILL_RUNNING, Scope, Traced, shape_of, wrapper_for
from genai_otel.telemetry import TelemetryHandler
from genai_otel.telemetry.invocation import Invocation
from genai_otel.telemetry.scoped import drive_async, drive_sync

# The run functions ``Agent.run``/``arun`` and ``Team.run``/``arun`` dispatch to (streamed or not).
_RUN_MODULES = ("agno.agent._run", "agno.team._run")
_RUN_FUNCTIONS = ("_run", "_run_stream", "_arun", "_arun_stream")
# One model call each (the client call, the reply put into the assistant message), streamed or not.
_MODEL_CALLS = (
    "_process_model_response",
    "_aprocess_model_response",
    "process_response_stream",
    "aprocess_response_stream",
)


class AgnoInstrumentor(GenAIInstrumentor):
    """Instruments ``agno`` agents, teams, model calls and tool calls."""

    dependencies = ("agno >= 2.5",)

    def patches(self) -> Iterable[Patch]:
        for module in _RUN_MODULES:
            for function in _RUN_FUNCTIONS:
                yield _patch(module, function, _RUN)
        for method in _MODEL_CALLS:
            yield _patch("agno.models.base", f"Model.{method}", _MODEL_CALL)
        for method in ("execute", "aexecute"):
            yield _patch("agno.tools.function", f"FunctionCall.{method}", _TOOL_CALL)


def _patch(module: str, attribute: str, traced: Traced) -> Patch:
    """The wrapper fits the method's shape (function, coroutine, generator...), read when it is patched."""
    shape: list[str] = []

    def applies(owner: Any, name: str) -> bool:
        shape[:] = [shape_of(getattr(owner, name))]
        return True

    return Patch(module, attribute, lambda handler: wrapper_for(handler, traced, shape[0]), applies)


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return kwargs[name] if name in kwargs else (args[index] if len(args) > index else None)


# -- runs -----------------------------------------------------------------------------------------


def _run_record(handler: TelemetryHandler, instance: Any, args: tuple, kwargs: dict) -> Invocation:
    owner = args[0]  # the Agent or Team: the run functions take it first
    run_response = _arg(args, kwargs, 1, "run_response")
    return m.agent_record(owner, run_response, handler.capture_content)


def _run_done(scope: Scope, args: tuple, kwargs: dict, result: Any) -> BaseException | None:
    run_response = _arg(args, kwargs, 1, "run_response")
    if scope.handler.capture_content:
        m.agent_output(scope.inv, run_response)  # type: ignore[arg-type]
    status = getattr(getattr(run_response, "status", None), "value", None)
    if status == "ERROR":
        return scope.failure or AgnoRunError()
    return None


class AgnoRunError(Exception):
    """A run Agno ended with ``status=ERROR`` without a failed model or tool call we saw."""


_RUN = Traced("agno.run", _run_record, _run_done)


# -- model calls ------------------------------------------------------------------------------------


def _model_record(handler: TelemetryHandler, instance: Any, args: tuple, kwargs: dict) -> Invocation:
    messages = _arg(args, kwargs, 0, "messages")
    tools = kwargs.get("tools")
    return m.chat_record(instance, messages, tools, handler.capture_content)


def _model_done(scope: Scope, args: tuple, kwargs: dict, result: Any) -> None:
    if scope.inv.owner is None:
        m.chat_result(scope.inv, _arg(args, kwargs, 1, "assistant_message"), scope.handler.capture_content)  # type: ignore[arg-type]


_MODEL_CALL = Traced("agno.model", _model_record, _model_done)


# -- tool calls ---------------------------------------------------------------------------------------


def _tool_record(handler: TelemetryHandler, instance: Any, args: tuple, kwargs: dict) -> Invocation:
    return m.tool_record(instance, handler.capture_content)


def _tool_done(scope: Scope, args: tuple, kwargs: dict, result: Any) -> Any:
    produced = getattr(result, "result", None)
    if inspect.isgenerator(produced) or inspect.isasyncgen(produced):
        # A tool that yields (a team's delegation to its members) runs as Agno consumes what it yields:
        # the span lasts until then, and the members' runs nest beneath it.
        drive = drive_async if inspect.isasyncgen(produced) else drive_sync
        result.result = drive(produced, scope.context, scope.end)
        return STILL_RUNNING
    return m.tool_outcome(scope.inv, result, scope.handler.capture_content)  # type: ignore[arg-type]


_TOOL_CALL = Traced("agno.tool", _tool_record, _tool_done)
